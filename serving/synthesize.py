"""Synthesize: a request's chunks -> their audio, through the synthesizer services, in order.

The HTTP face is a client of the synthesizers: it sends token ids, a voice name and a speed, and
gets PCM16 and per-token durations back. The next chunk waits in the fair queue (or is in a
synthesizer's batch) while the current one is encoded and sent, so chunks of many requests batch
together. When the request ends early (its client left) the chunk waiting is dropped and counted;
a chunk already inside the model finishes there, and nothing after it is sent.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

import numpy as np

from engine.audio import SAMPLE_RATE
from engine.synthesis import Rendered
from engine.text import Chunk
from schemas import ChunkAudio, ChunkJob, SynthesizerStatus, TTSRequest

from .errors import NotReady
from .metrics import CHUNKS_CANCELLED, FIRST_AUDIO
from .plan import ChunkPlan
from .schedule import FairScheduler

#: how soon to retry after a synthesizer said it is overloaded or unavailable
SYNTHESIZER_RETRY_S = 5.0


class Synthesizer(Protocol):
    """What the HTTP face needs of a synthesizer service (BentoML's client, or a fake in tests)."""

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]: ...

    async def status(self) -> SynthesizerStatus: ...


@dataclass(frozen=True)
class Lane:
    """A synthesizer and the fair queue in front of it."""

    synthesizer: Synthesizer
    scheduler: FairScheduler


async def render(lane: Lane, chunk: Chunk, request: TTSRequest, served_s: float) -> Rendered:
    """One chunk's audio, once the lane's fair queue lets it through."""
    job = ChunkJob(token_ids=list(chunk.token_ids), voice=request.voice, speed=request.speed)
    audio = (await lane.scheduler.run(served_s, lambda: _call(lane.synthesizer, job)))[0]
    return Rendered(np.frombuffer(audio.pcm16, dtype="<i2"), np.asarray(audio.frames, dtype=np.int64))


async def _call(synthesizer: Synthesizer, job: ChunkJob) -> list[ChunkAudio]:
    try:
        return await synthesizer.synthesize([job])
    except Exception as exc:
        # BentoML answers 503 when a batch waits past max_latency_ms and 429 when a service is full
        if getattr(exc, "error_code", None) in (HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.TOO_MANY_REQUESTS):
            raise NotReady("the synthesizer is overloaded", SYNTHESIZER_RETRY_S) from exc
        raise


async def spoken_chunks(
    plan: ChunkPlan, request: TTSRequest, first_lane: Lane, later_lane: Lane
) -> AsyncIterator[tuple[Chunk, Rendered]]:
    """Each chunk with its audio, in order: the first through `first_lane` (what decides how soon
    the caller hears anything), the rest through `later_lane`, one chunk ahead."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    served_s = 0.0
    chunks = aiter(plan)

    async def submit(lane: Lane) -> asyncio.Task[tuple[Chunk, Rendered]] | None:
        chunk = await anext(chunks, None)
        if chunk is None:
            return None

        async def rendered() -> tuple[Chunk, Rendered]:
            return chunk, await render(lane, chunk, request, served_s)

        return asyncio.ensure_future(rendered())

    pending = await submit(first_lane)
    first = True
    try:
        while pending is not None:
            upcoming = await submit(later_lane)
            try:
                chunk, audio = await pending
            except BaseException:
                pending = upcoming
                raise
            if first:
                FIRST_AUDIO.observe(loop.time() - started)
                first = False
            served_s += audio.pcm16.shape[0] / SAMPLE_RATE
            pending = upcoming
            yield chunk, audio
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            CHUNKS_CANCELLED.inc()
