"""Plan: a request's text -> its chunks, phonemized lazily off the event loop.

G2P (spaCy, misaki, espeak) is CPU work that would stall every other request if it ran on the
event loop, so each step runs in a worker thread; the next chunk is planned while the current
one is being synthesised.
"""

from collections.abc import AsyncIterator, Iterator

import anyio

from engine.errors import InvalidInput
from engine.speech import SpeechPlanner
from engine.text import Chunk
from schemas import TTSRequest

from .errors import BadRequest


class ChunkPlan:
    """The chunks of one request, in speaking order."""

    def __init__(self, chunks: Iterator[Chunk]):
        self._chunks = chunks

    @classmethod
    async def start(cls, planner: SpeechPlanner, request: TTSRequest) -> "ChunkPlan":
        """Validates the request against voices, languages and limits (400) and plans the first chunk."""
        try:
            chunks = await anyio.to_thread.run_sync(
                planner.plan, request.text, request.voice, request.speed, request.lang
            )
        except InvalidInput as exc:
            raise BadRequest(str(exc)) from None
        return cls(chunks)

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        while (chunk := await anyio.to_thread.run_sync(next, self._chunks, None)) is not None:
            yield chunk
