"""Plan: a validated request's text -> its chunks, phonemized lazily off the event loop.

G2P (spaCy, misaki, espeak) is CPU work that would stall every other request if it ran on the
event loop, so each step runs in a worker thread; the next chunk is planned while the current
one is being synthesised.
"""

from collections.abc import AsyncIterator, Iterator

import anyio

from engine.errors import InvalidInput
from engine.text import Chunk

from .errors import BadRequest


class ChunkPlan:
    """The chunks of one request, in speaking order."""

    def __init__(self, chunks: Iterator[Chunk]):
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        while (chunk := await anyio.to_thread.run_sync(self._next)) is not None:
            yield chunk

    def _next(self) -> Chunk | None:
        try:
            return next(self._chunks, None)
        except InvalidInput as exc:  # G2P found nothing to say in a text that passed validation
            raise BadRequest(str(exc)) from None
