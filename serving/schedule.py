"""Fair scheduling of chunks onto the synthesizer: least-served request first.

Every request's chunks wait here for one of a few slots. A request's priority is the seconds of
audio it has been given so far, so a new short request (0 s) goes before the next chunk of a
stream that already has minutes, and a long stream cannot starve anyone. Slots bound the work
in flight: one on a CPU, where chunks run one after another anyway and a queue there would be
first come, first served; more on a GPU, where BentoML needs several at once to batch them.
"""

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class FairScheduler:
    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError("a scheduler needs at least one slot")
        self._slots = slots
        self._free = slots
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def run(self, served_s: float, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` once a slot is free and no less-served request is waiting for one."""
        await self._acquire(served_s)
        try:
            return await work()
        finally:
            self._release()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def idle(self) -> bool:
        """No work running and none waiting."""
        return self._free == self._slots and not self._waiting

    async def _acquire(self, served_s: float) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (served_s, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot was handed over just as the waiter gave up
            else:
                self._waiting = [entry for entry in self._waiting if entry[2] is not turn]
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        while self._waiting:
            *_, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the next waiter
                return
        self._free += 1
