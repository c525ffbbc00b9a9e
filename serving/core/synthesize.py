"""Synthesize: a request's chunks -> their audio, through the synthesizer services, in order.

The HTTP face is a client of the synthesizers: it sends token ids, a voice name and a speed, and
gets PCM16 and per-token durations back. A chunk call is idempotent, so one that fails on a
broken or closed connection is sent again on a fresh one, a bounded number of times. The next
chunk waits in the fair queue (or is in a synthesizer's batch) while the current one is encoded
and sent, so chunks of many requests batch together. When the request ends early (its client
left) the chunk waiting is dropped and counted; a chunk already inside the model finishes there,
and nothing after it is sent.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

import aiohttp

from engine.synthesis import ChunkAudio, ChunkJob, decoded_span, silence
from engine.text import Chunk
from engine.timing import SAMPLES_PER_FRAME
from engine.windows import estimated_frames, first_window_end
from schemas import SynthesizerStatus, TTSRequest

from . import request_id
from .errors import NotReady
from .metrics import CHUNKS_CANCELLED, FIRST_AUDIO, SYNTHESIZER_RETRIES
from .plan import ChunkPlan
from .schedule import FairScheduler

log = logging.getLogger("kokoro_tts")
#: how soon to retry after a synthesizer said it is overloaded or unavailable
SYNTHESIZER_RETRY_S = 5.0
#: times a chunk call is sent again after its connection failed, before the failure is the request's
CONNECTION_RETRIES = 2
#: a whole answer due this soon after it arrives (a sentence or two, the answers ahead included) is
#: waited for as a first chunk is: its caller hears nothing until its last chunk is rendered, so
#: its later chunks go through the first lane too, where a newcomer's first chunk waits for one
#: of them at most, not to the later lane behind a stream's chunk in the model (seconds on CPU)
INTERACTIVE_ANSWER_S = 2.0
#: the first lane's measured decoding pace is taken this much slower when a stream's first window
#: is sized: the pace of the calls before, and the rest of the sentence may share the cores with
#: another request's chunk
WINDOW_PACE_MARGIN = 1.25


class SynthesizerClient(Protocol):
    """The HTTP face's handle on a synthesizer service: BentoML's client, or a fake in tests."""

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]: ...

    async def status(self) -> SynthesizerStatus: ...


class DecodePace:
    """How long a synthesizer takes per frame it decodes, as its recent chunk calls took (the
    front's share, the transfer and any other work on its cores included): what sizes a stream's
    first window (engine.windows). None until a call has been measured."""

    #: the weight of the newest call: the pace follows the load within a few calls
    NEWEST_WEIGHT = 0.5

    def __init__(self) -> None:
        self.seconds_per_frame: float | None = None

    def took(self, seconds: float, frames: int) -> None:
        if frames <= 0:
            return
        newest = seconds / frames
        known = self.seconds_per_frame
        self.seconds_per_frame = newest if known is None else known + self.NEWEST_WEIGHT * (newest - known)


@dataclass(frozen=True)
class Lane:
    """A synthesizer, the fair queue in front of it, and the pace it decodes at."""

    synthesizer: SynthesizerClient
    scheduler: FairScheduler
    pace: DecodePace = field(default_factory=DecodePace)


#: a chunk's frames [from, to) to render; to None: to its end
Frames = tuple[int, int | None]
WHOLE: Frames = (0, None)


async def render(lane: Lane, chunk: Chunk, request: TTSRequest, due_at: float, frames: Frames = WHOLE) -> ChunkAudio:
    """A chunk's audio (or a window of its frames), once the lane's fair queue lets it through; a
    pause needs no model."""
    if chunk.pause_s:
        return silence(chunk.pause_s)
    job = ChunkJob(
        token_ids=chunk.token_ids, voice=request.voice, speed=request.speed, frames_from=frames[0], frames_to=frames[1]
    )

    async def timed_call() -> ChunkAudio:
        started = time.perf_counter()
        audio = (await _call(lane.synthesizer, job))[0]
        lane.pace.took(time.perf_counter() - started, decoded_frame_count(audio))
        return audio

    return await lane.scheduler.run(due_at, timed_call)


def decoded_frame_count(audio: ChunkAudio) -> int:
    """The frames the model decoded for `audio`: its own, and the context around a window's."""
    frame_count = sum(audio.frames)
    first, last = decoded_span(audio.frames_from, decoded_to(audio), frame_count)
    return last - first


def decoded_to(audio: ChunkAudio) -> int:
    """The frame after the last one `audio` holds."""
    return audio.frames_from + len(audio.samples) // SAMPLES_PER_FRAME


async def _call(synthesizer: SynthesizerClient, job: ChunkJob) -> list[ChunkAudio]:
    for retry in range(CONNECTION_RETRIES + 1):
        try:
            return await synthesizer.synthesize([job])
        except aiohttp.ClientConnectionError as exc:
            # a pooled connection the synthesizer had closed (a broken pipe), or one cut mid-call
            if retry == CONNECTION_RETRIES:
                raise
            SYNTHESIZER_RETRIES.inc()
            log.warning("request %s: a chunk call lost its connection (%r); sent again", request_id.current(), exc)
        except Exception as exc:
            # BentoML answers 503 when a batch waits past max_latency_ms and 429 when a service is full
            if getattr(exc, "error_code", None) in (HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.TOO_MANY_REQUESTS):
                raise NotReady("the synthesizer is overloaded", SYNTHESIZER_RETRY_S) from exc
            raise
    raise AssertionError("unreachable: the last try returns or raises")


def opening_lane(first_lane: Lane, later_lane: Lane) -> Lane:
    """The lane for a request's first chunk: the first lane, unless it is busy and the later lane
    is idle. On CPU a chunk in flight cannot be paused: when two requests start together, the
    second one's first chunk would hold the first lane for most of a second after the first one's,
    and a short request arriving then would wait for it. In the idle bulk lane it runs on what the
    first lane leaves, and the first lane is free for the next request at once."""
    if first_lane.scheduler.idle or not later_lane.scheduler.idle:
        return first_lane
    return later_lane


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
) -> AsyncIterator[tuple[Chunk, ChunkAudio]]:
    """Each chunk with its audio, in order: the first through `first_lane` (what decides how soon
    the caller hears anything, see `opening_lane`), the rest through `later_lane` (a short whole
    answer's through the first lane, see INTERACTIVE_ANSWER_S), one chunk ahead,
    each due as `due_at` says (`answer_by`: when a whole answer is due; None for a stream). A
    stream that continues one already playing (a WebSocket context's next sentence) says when
    that one `began` (loop time) and how much audio it was `sent_s`: its chunks are due as that
    audio plays out, not at once. `clock`: the loop's time unless a test keeps its own.

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
    playback = Playback(started + sent_s)
    chunks = aiter(plan)
    rendering: Chunk | None = None  # asked for and not rendered yet: its audio is not known

    async def submit(
        choose_lane: Callable[[], Lane], opening: bool = False, rest_of: Chunk | None = None, rest_from: int = 0
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
            # chosen when the chunk takes its place in the lane, with no await between: requests
            # that start together each see the others' chunks already placed
            return chunk, await render(choose_lane(), chunk, request, due, frames)

        return asyncio.ensure_future(rendered())

    def opening() -> Lane:
        return opening_lane(first_lane, later_lane)

    def first_frames(chunk: Chunk) -> Frames:
        if not first_window or chunk.pause_s:
            return WHOLE
        frame_count = estimated_frames(len(chunk.token_ids), request.speed)
        pace = first_lane.pace.seconds_per_frame
        end = first_window_end(frame_count, pace and WINDOW_PACE_MARGIN * pace, first_window)
        return (0, end) if end < frame_count else WHOLE

    pending = await submit(opening, opening=True)
    upcoming = None
    first = True
    try:
        while pending is not None:
            if not first:
                upcoming = await submit(lambda: later_lane)
            chunk, audio = await pending
            playback.heard(chunk, audio, clock())
            if first:
                if not sent_s:
                    FIRST_AUDIO.observe(clock() - started)
                first = False
                rendering = None  # the second chunk is asked for with the first one heard
                rest_from = decoded_to(audio)
                if rest_from < sum(audio.frames):  # a first window: the rest, through the opening lane
                    upcoming = await submit(opening, rest_of=chunk, rest_from=rest_from)
                else:
                    upcoming = await submit(lambda: later_lane)
            pending, upcoming = upcoming, None
            yield chunk, audio
    finally:
        for task in (pending, upcoming):
            if task is not None and not task.done():
                task.cancel()
                CHUNKS_CANCELLED.inc()
            elif task is not None and not task.cancelled():
                task.exception()  # a chunk refused after its request ended: retrieved, nothing to tell
