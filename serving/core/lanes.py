"""Lanes: the synthesizer services, the fair queue in front of each, and which one a chunk goes to.

The HTTP face is a client of the synthesizers: it sends token ids, a voice name and a speed, and
gets PCM16 and per-token durations back. A chunk call is idempotent, so one that fails on a
broken or closed connection is sent again on a fresh one, a bounded number of times. On CPU
there are two lanes: the first renders what listeners are waiting for, at the normal CPU
priority; the later one (BulkSynthesizer) what they will need later, at the lowest.
"""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

import aiohttp

from engine.synthesis import ChunkAudio, ChunkJob, decoded_span, silence
from engine.text import Chunk
from engine.timing import MEASURED_FRAMES_PER_TOKEN, SAMPLES_PER_FRAME, estimated_frames
from schemas import SynthesizerStatus, TTSRequest

from . import request_id
from .errors import NotReady
from .metrics import LATER_LANE_HEDGES, REFUSED_CHUNKS_RETRIED, SYNTHESIZER_RETRIES
from .schedule import FairScheduler

log = logging.getLogger("kokoro_tts")
#: how soon to retry after a synthesizer said it is overloaded or unavailable
SYNTHESIZER_RETRY_S = 5.0
#: times a chunk call is sent again after its connection failed, before the failure is the request's
CONNECTION_RETRIES = 2
#: the later lane starves when a call inside it has taken this many times what the first lane's
#: pace says it needs; a chunk is asked of the first lane then, if that lane would need to start
#: it this many times its time there ahead of its due time (see render_hedged)
LATER_LANE_MARGIN = 3.0
#: the waits before a chunk after a request's first audio, refused by an overloaded synthesizer,
#: is asked for again; after the last, the refusal ends the answer (serving.core.respond's paths)
REFUSED_CHUNK_WAITS_S = (0.5, 1.0, 2.0)
#: how often a chunk waiting for the later lane looks whether that lane starves
STALL_CHECK_S = 0.1


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
    """A synthesizer, the fair queue in front of it, the pace it decodes at, and the calls inside
    it now: for each, when it started (loop time) and the frames it decodes, about."""

    synthesizer: SynthesizerClient
    scheduler: FairScheduler
    pace: DecodePace = field(default_factory=DecodePace)
    in_model: dict[int, tuple[float, float]] = field(default_factory=dict)

    def stalled(self, seconds_per_frame: float, now: float) -> bool:
        """Whether a call inside this lane's synthesizer has taken LATER_LANE_MARGIN times what
        `seconds_per_frame` says it needs: the lane is starved of CPU, not merely busy."""
        return any(
            now - started > LATER_LANE_MARGIN * frames * seconds_per_frame for started, frames in self.in_model.values()
        )


#: numbers the chunk calls, so that a lane tells the calls inside it apart
_CALLS = itertools.count()
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
        call = next(_CALLS)
        frames_about = estimated_frames(len(job.token_ids), job.speed, MEASURED_FRAMES_PER_TOKEN)
        lane.in_model[call] = (asyncio.get_running_loop().time(), frames_about)
        started = time.perf_counter()
        try:
            audio = (await _call(lane.synthesizer, job))[0]
        finally:
            del lane.in_model[call]
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


def needs_s(lane: Lane, chunk: Chunk, speed: float) -> float | None:
    """How long `lane` would likely take to render `chunk`, at the pace it decoded lately (None
    before it has decoded anything)."""
    pace = lane.pace.seconds_per_frame
    return None if pace is None else estimated_frames(len(chunk.token_ids), speed, MEASURED_FRAMES_PER_TOKEN) * pace


def to_hedge(first_lane: Lane, later_lane: Lane, chunk: Chunk, speed: float, due_in_s: float, now: float) -> bool:
    """Whether a chunk waiting for the later lane, due in `due_in_s`, is to be asked of the first
    lane too (see render_hedged); `now`: the loop's time, which the lanes' calls are timed by."""
    first_needs_s = needs_s(first_lane, chunk, speed)
    if first_needs_s is None or due_in_s > LATER_LANE_MARGIN * first_needs_s:
        return False
    return later_lane.stalled(first_lane.pace.seconds_per_frame or 0.0, now)


async def render_hedged(
    first_lane: Lane,
    later_lane: Lane,
    chunk: Chunk,
    request: TTSRequest,
    due: float,
    clock: Callable[[], float],
    frames: Frames = WHOLE,
) -> ChunkAudio:
    """A chunk through the later lane, asked of the first lane too when the later lane starves,
    whichever answers first taken: at the lowest CPU priority the later lane gets nothing while
    other work keeps the host's cores busy, and a listener would wait for it without end. It is
    asked of the first lane once (a) the first lane would have to start it now to meet its due
    time (LATER_LANE_MARGIN times its pace there ahead of it), and (b) a call inside the later
    lane has taken LATER_LANE_MARGIN times what the first lane's pace says it needs (the later
    lane is starved, not merely busy: a lane that is only behind its listeners, all of them
    asking more than the cores can do, would gain nothing from the same work done twice, and a
    client that sends text faster than it can be heard would take the first lane from everyone
    else's first audio). The later lane's call goes on to its end, its slot held until then
    (serving.core.schedule)."""
    later = asyncio.ensure_future(render(later_lane, chunk, request, due, frames))
    loop = asyncio.get_running_loop()
    while True:
        done, _ = await asyncio.wait({later}, timeout=STALL_CHECK_S)
        if done:
            return later.result()
        if to_hedge(first_lane, later_lane, chunk, request.speed, due - clock(), loop.time()):
            break
    LATER_LANE_HEDGES.inc()
    first = asyncio.ensure_future(render(first_lane, chunk, request, due, frames))
    try:
        done, _ = await asyncio.wait({later, first}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (later, first):
            if not task.done():
                task.cancel()
    return done.pop().result()


async def asked_again_if_refused(render_once: Callable[[], Awaitable[ChunkAudio]]) -> ChunkAudio:
    """A chunk whose listener already hears the audio before it, asked for again after each of
    REFUSED_CHUNK_WAITS_S while a synthesizer refuses it for a moment (overloaded: BentoML's 503
    when a batch waits too long, or 429): a pause in the middle of an answer rather than its end."""
    for wait_s in (*REFUSED_CHUNK_WAITS_S, None):
        try:
            return await render_once()
        except NotReady:
            if wait_s is None:
                raise
            REFUSED_CHUNKS_RETRIED.inc()
            log.info(
                "request %s: a chunk was refused (overloaded); asked again in %.1f s", request_id.current(), wait_s
            )
            await wait_before_retry(wait_s)
    raise AssertionError("unreachable: the last try returns or raises")


async def wait_before_retry(seconds: float) -> None:
    """The pause before a refused chunk is asked for again."""
    await asyncio.sleep(seconds)


def opening_lane(first_lane: Lane, later_lane: Lane) -> Lane:
    """The lane for a request's first chunk: the first lane, unless it is busy and the later lane
    is idle. On CPU a chunk in flight cannot be paused: when two requests start together, the
    second one's first chunk would hold the first lane for most of a second after the first one's,
    and a short request arriving then would wait for it. In the idle bulk lane it runs on what the
    first lane leaves, and the first lane is free for the next request at once."""
    if first_lane.scheduler.idle or not later_lane.scheduler.idle:
        return first_lane
    return later_lane
