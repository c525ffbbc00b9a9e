"""Admission: how much work the server takes on, and a fast, honest refusal beyond it.

A request is admitted while fewer than `max_requests` are in flight and the text in flight stays
within `max_chars` (a text longer than that alone is admitted into an empty server). Otherwise it
waits, first come first served, at most `max_wait_s`, behind at most `max_queued` others; past
either bound it is refused at once with 429 and a Retry-After estimated from how long requests
have recently taken. BentoML's own `traffic.max_concurrency` answers 429 too, but counts health
checks and gives no Retry-After (bentoml/_internal/server/http/traffic.py), so it is not used.
"""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

from .errors import Busy
from .metrics import IN_FLIGHT, QUEUED

#: weight of the newest request in the running mean of request durations
DURATION_SMOOTHING = 0.2


class Admission:
    def __init__(self, max_requests: int, max_chars: int, max_queued: int, max_wait_s: float):
        self.max_requests = max_requests
        self.max_chars = max_chars
        self.max_queued = max_queued
        self.max_wait_s = max_wait_s
        self.requests = 0
        self.chars = 0
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._mean_duration_s = 5.0

    @contextlib.asynccontextmanager
    async def admit(self, chars: int) -> AsyncIterator[None]:
        """Holds a place for a request of `chars` characters while the block runs; raises Busy."""
        if self._waiting or not self._fits(chars):
            await self._wait(chars)
        else:
            self._take(chars)
        self._publish()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            yield
        finally:
            duration = loop.time() - started
            self._mean_duration_s += DURATION_SMOOTHING * (duration - self._mean_duration_s)
            self.requests -= 1
            self.chars -= chars
            self._wake()
            self._publish()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def retry_after_s(self) -> float:
        """About when a place frees up: a request's mean duration, shared among those in flight."""
        return min(60.0, self._mean_duration_s / max(1, self.requests))

    def _fits(self, chars: int) -> bool:
        if self.requests >= self.max_requests:
            return False
        return self.requests == 0 or self.chars + chars <= self.max_chars

    def _take(self, chars: int) -> None:
        self.requests += 1
        self.chars += chars

    async def _wait(self, chars: int) -> None:
        if len(self._waiting) >= self.max_queued or self.max_wait_s <= 0:
            raise self._busy()
        turn = asyncio.get_running_loop().create_future()
        entry = (chars, turn)
        self._waiting.append(entry)
        self._publish()
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.max_wait_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if turn.done() and not turn.cancelled():
                # the place was handed over just as the wait ended: give it back
                self.requests -= 1
                self.chars -= chars
                self._wake()
            else:
                turn.cancel()
                self._waiting.remove(entry)
                self._wake()  # a smaller request behind this one may fit now
            self._publish()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise self._busy() from None

    def _wake(self) -> None:
        """Hands free places to waiters in arrival order; stops at the first that does not fit."""
        while self._waiting and self._fits(self._waiting[0][0]):
            chars, turn = self._waiting.popleft()
            self._take(chars)
            turn.set_result(None)

    def _publish(self) -> None:
        IN_FLIGHT.set(self.requests)
        QUEUED.set(len(self._waiting))

    def _busy(self) -> Busy:
        return Busy(
            f"the server is busy ({self.requests} requests, {self.chars} characters in flight, "
            f"{len(self._waiting)} waiting)",
            self.retry_after_s(),
        )
