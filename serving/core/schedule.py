"""Fair scheduling of chunks onto the synthesizer: the chunk due first goes first.

Every request's chunks wait here for one of a few slots, each with the time it is due (see
serving.core.synthesize.due_at): a request's first chunk is due as it arrives, so a new short request
goes before the next chunk of a stream that is already ahead; a stream's later chunk is due
when its listener's audio would run out, and a whole answer's (JSON) when admission projected it
finished. Earliest due first meets every due time that can be met, and starves no one: a due
time does not move while its chunk waits. Slots bound the work in flight: one on a CPU, where
chunks run one after another anyway; more on a GPU, where BentoML needs several at once to batch
them.
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

    async def run(self, due_at: float, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` once a slot is free and no chunk due earlier is waiting for one.

        A caller that gives up while its work runs (its client left) leaves the work to finish,
        holding the slot until then: a chunk sent to a synthesizer is rendered there whether or
        not anyone waits for it, so the slot is busy as long as the synthesizer is. Were it let go
        at once, the next chunk would queue inside the synthesizer, behind the abandoned one and
        out of this queue's order: clients that connect, ask and leave again and again would pile
        abandoned chunks there, ahead of everyone else's."""
        await self._acquire(due_at)
        try:
            running = asyncio.ensure_future(work())
        except BaseException:
            self._release()
            raise
        running.add_done_callback(self._finished)
        return await asyncio.shield(running)

    def _finished(self, work: asyncio.Future[object]) -> None:
        self._release()
        if not work.cancelled():
            work.exception()  # retrieved: a caller that left is told nothing, and nothing is logged twice

    @property
    def waiting(self) -> int:
        """Chunks waiting for a slot."""
        return len(self._waiting)

    @property
    def idle(self) -> bool:
        """No work running and none waiting."""
        return self._free == self._slots and not self.waiting

    async def _acquire(self, due_at: float) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (due_at, next(self._order), turn))
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
