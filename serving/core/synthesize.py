"""Synthesize: a request's chunks -> their audio, through the lanes (serving.core.lanes), in order.

Each chunk is due when its listener needs it (`due_at`): the fair queues go by that. The next
chunk waits in the fair queue (or is in a synthesizer's batch) while the current one is encoded
and sent, so chunks of many requests batch together. When the request ends early (its client
left) the chunk waiting is dropped and counted; a chunk already inside the model finishes there,
and nothing after it is sent.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from engine.synthesis import ChunkAudio
from engine.text import Chunk
from engine.timing import SAMPLES_PER_FRAME, estimated_frames
from engine.windows import WINDOW_FRAMES_PER_TOKEN, first_window_end
from schemas import TTSRequest

from . import request_id
from .lanes import WHOLE, Frames, Lane, asked_again_if_refused, decoded_to, opening_lane, render, render_hedged
from .metrics import CHUNKS_CANCELLED, FIRST_AUDIO
from .plan import ChunkPlan

log = logging.getLogger("kokoro_tts")

#: a whole answer due this soon after it arrives (a sentence or two, the answers ahead included) is
#: waited for as a first chunk is: its caller hears nothing until its last chunk is rendered, so
#: its later chunks go through the first lane too, where a newcomer's first chunk waits for one
#: of them at most, not to the later lane behind a stream's chunk in the model (seconds on CPU)
INTERACTIVE_ANSWER_S = 2.0
#: the first lane's measured decoding pace is taken this much slower when a stream's first window
#: is sized: the pace of the calls before, and the rest of the sentence may share the cores with
#: another request's chunk
WINDOW_PACE_MARGIN = 1.25


class Playback:
    """When a stream's audio runs out, for a listener who plays each chunk as it arrives: a chunk
    that arrives while audio is playing extends it by its length; one that arrives after the audio
    ran out starts it again (the listener heard a gap, and is not owed the time lost)."""

    def __init__(self, runs_out_at: float):
        self.runs_out_at = runs_out_at
        self._speech_s = 0.0
        self._tokens = 0.0

    def heard(self, chunk: Chunk, audio: ChunkAudio, at: float) -> None:
        """`chunk`'s audio (or a window of it) was sent at `at` (loop time)."""
        self.runs_out_at = max(self.runs_out_at, at) + audio.duration_s
        if not chunk.pause_s:
            self._speech_s += audio.duration_s
            # a window holds its share of the chunk's tokens
            self._tokens += len(chunk.token_ids) * len(audio.samples) / (sum(audio.frames) * SAMPLES_PER_FRAME)

    def expected_s(self, chunk: Chunk) -> float:
        """The audio `chunk` will add once rendered: its pause, or its tokens at the pace of this
        request's speech so far (none before any is heard, which makes the next chunk due sooner)."""
        if chunk.pause_s:
            return chunk.pause_s
        return len(chunk.token_ids) * self._speech_s / self._tokens if self._tokens else 0.0


def due_at(playback: Playback, rendering: Chunk | None, answer_by: float | None, opening: bool) -> float:
    """When a request's next chunk is due (loop time), asked for while `rendering` (the chunk
    before it, if it is not rendered yet) is in the model; `opening`: it is the request's first.

    A stream's chunk is due when its audio would run out: the audio already sent, and the chunk
    still rendering at the pace heard so far. A new request's first chunk is therefore due as it
    arrives (it decides how soon the caller hears anything), and a stream ahead of its listener
    waits for the chunks that are needed sooner, a short answer's among them. A whole answer's
    later chunks are due when admission projected it finished (`answer_by`), after the answers
    taken before it: its client waits for all of it, so answers go in arrival order, and a
    newcomer holds an older one back by one chunk. Streams' chunks go before it only when their
    listeners would run out of audio first."""
    if answer_by is not None and not opening:
        return answer_by
    return playback.runs_out_at + (playback.expected_s(rendering) if rendering is not None else 0.0)


async def rendered_chunks(
    plan: ChunkPlan,
    request: TTSRequest,
    first_lane: Lane,
    later_lane: Lane,
    answer_by: float | None = None,
    began: float | None = None,
    sent_s: float = 0.0,
    first_window: int | None = None,
    clock: Callable[[], float] | None = None,
    ahead_s: float | None = None,
    due_later_s: float = 0.0,
) -> AsyncIterator[tuple[Chunk, ChunkAudio]]:
    """Each chunk with its audio, in order: the first through `first_lane` (what decides how soon
    the caller hears anything, see `opening_lane`), the rest through `later_lane` (a short whole
    answer's through the first lane, see INTERACTIVE_ANSWER_S; any in the later lane asked of the
    first too when it is late, see `render_hedged`), one chunk ahead,
    each due as `due_at` says (`answer_by`: when a whole answer is due; None for a stream). A
    stream that continues one already playing (a WebSocket context's next sentence) says when
    that one `began` (loop time) and how much audio it was `sent_s`: its chunks are due as that
    audio plays out, not at once. `clock`: the loop's time unless a test keeps its own. With
    `ahead_s`, a chunk is not asked for before `ahead_s` ahead of its due time: a listener who
    plays the audio as it comes (a voice agent) needs no more, and a client that sends text faster
    than it is heard, or leaves, costs no more. With `due_later_s`, every chunk is due that much
    later, and all go to the later lane, never asked of the first: a client over its share of
    the first lane (a voice agent opening contexts faster than serving.cartesia.clients gives
    them turns) is queued behind its own streams, and leaves the first lane to everyone else's
    first audio.

    With `first_window`, the first chunk comes in two windows of its frames (engine.windows): a
    first of `first_window` frames at least, more where the first lane's measured pace says the
    rest could not be decoded before it has played; then the rest. The model's front runs
    on the whole sentence each time, so every window has its prosody. The windows go through the
    opening lane, as urgent as the first: its listener is already hearing the sentence.

    The second chunk is asked for with the first one's rest, not beside its first window: on CPU
    the two would share the same cores (the later lane's at the lowest priority, so it gains
    almost nothing), and the later lane would look busy to the next request's `opening_lane`."""
    clock = clock or asyncio.get_running_loop().time
    started = clock() if began is None else began
    if answer_by is not None and answer_by - started <= INTERACTIVE_ANSWER_S:
        later_lane = first_lane
    playback = Playback(started + sent_s + due_later_s)
    chunks = aiter(plan)
    rendering: Chunk | None = None  # asked for and not rendered yet: its audio is not known

    async def submit(
        opening: bool = False, rest_of: Chunk | None = None, rest_from: int = 0
    ) -> asyncio.Task[tuple[Chunk, ChunkAudio]] | None:
        """The next chunk of the plan sent for rendering (`opening`: the request's first, its first
        window where it has one), or the rest of `rest_of` from frame `rest_from`, after its first
        window came."""
        nonlocal rendering
        due = due_at(playback, rendering, answer_by, opening)
        chunk = rest_of or await anext(chunks, None)
        if chunk is None:
            return None
        rendering = chunk
        frames = (rest_from, None) if rest_of else first_frames(chunk) if opening else WHOLE

        async def rendered() -> tuple[Chunk, ChunkAudio]:
            if ahead_s is not None and (early_s := due - ahead_s - clock()) > 0:
                await wait_to_ask(early_s)
            # chosen when the chunk takes its place in the first lane, with no await between:
            # requests that start together each see the others' chunks already placed (one sent
            # to the later lane takes its place there a loop step later, as a task of its own
            # that render_hedged can ask of the first lane too). A continued
            # stream's first chunk (a voice agent's next sentence) is a later one: its listener
            # is still hearing the audio before it, and a client that sends text faster than it
            # is heard must not hold the first lane, which newcomers' first audio waits for
            if (rest_of or opening) and not sent_s and not due_later_s:
                lane = opening_lane(first_lane, later_lane)
            else:
                lane = later_lane

            async def render_once() -> ChunkAudio:
                # a client over its share is never asked of the first lane
                if lane is first_lane or due_later_s:
                    return await render(lane, chunk, request, due, frames)
                return await render_hedged(first_lane, later_lane, chunk, request, due, clock, frames)

            # a request's first chunk refused is its answer's 503 (a context's next run, its own retry)
            return chunk, await (render_once() if opening else asked_again_if_refused(render_once))

        return asyncio.ensure_future(rendered())

    def first_frames(chunk: Chunk) -> Frames:
        if not first_window or chunk.pause_s:
            return WHOLE
        frame_count = round(estimated_frames(len(chunk.token_ids), request.speed, WINDOW_FRAMES_PER_TOKEN))
        pace = first_lane.pace.seconds_per_frame
        end = first_window_end(frame_count, pace and WINDOW_PACE_MARGIN * pace, first_window)
        log.debug(
            "request %s: a first window of %d frames of about %d, at %s s a frame",
            request_id.current(), end, frame_count, f"{pace:.4f}" if pace else "no pace yet",
        )  # fmt: skip
        return (0, end) if end < frame_count else WHOLE

    pending = await submit(opening=True)
    upcoming = None
    first = True
    try:
        while pending is not None:
            if not first:
                upcoming = await submit()
            chunk, audio = await pending
            playback.heard(chunk, audio, clock())
            if first:
                if not sent_s:
                    FIRST_AUDIO.observe(clock() - started)
                first = False
                rendering = None  # the second chunk is asked for with the first one heard
                rest_from = decoded_to(audio)
                if rest_from < sum(audio.frames):  # a first window: the rest, through the opening lane
                    upcoming = await submit(rest_of=chunk, rest_from=rest_from)
                else:
                    upcoming = await submit()
            pending, upcoming = upcoming, None
            yield chunk, audio
    finally:
        for task in (pending, upcoming):
            if task is not None and not task.done():
                task.cancel()
                CHUNKS_CANCELLED.inc()
            elif task is not None and not task.cancelled():
                task.exception()  # a chunk refused after its request ended: retrieved, nothing to tell


async def wait_to_ask(seconds: float) -> None:
    """The wait before a chunk too far ahead of its listener is asked for."""
    await asyncio.sleep(seconds)
