"""Health: whether the synthesizers are up, answered at once from a recent look at them.

An orchestrator's probe must not wait behind synthesis (a probe that times out under load gets a
busy pod restarted), yet a synthesizer that died must not read "healthy" for the rest of the
process's life. So a health call answers from the last look, and starts a new look in the
background once that is `refresh_s` old; a synthesizer that was asked and has not answered for
`grace_s`, or refused the connection, is unhealthy. Grace counts from the question, not from the
last answer: after a quiet spell with no calls, a synthesizer that answered then is still taken
at its word while the new look is under way (a busy one, at the lowest CPU priority, may take
seconds), rather than a request being refused as if the model were not loaded. Only the first
call, before any answer, waits briefly for one.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from schemas import SynthesizerStatus

from .lanes import SynthesizerClient

log = logging.getLogger("kokoro_tts")
#: how long a health call with nothing recent to go on waits for a look (k8s probes time out after 1 s)
WAIT_FOR_LOOK_S = 0.8


class HealthMonitor:
    def __init__(
        self,
        synthesizers: Sequence[SynthesizerClient],
        refresh_s: float,
        grace_s: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`clock` dates the looks and the answers, by which freshness and grace are judged."""
        self.synthesizers = synthesizers
        self.refresh_s = refresh_s
        self.grace_s = grace_s
        self._clock = clock
        self._looked_at: float | None = None
        #: when each synthesizer last answered, and the first one's answer
        self._answered_at: list[float | None] = [None] * len(synthesizers)
        #: when each was asked the question it has not answered yet (None: nothing outstanding)
        self._asked_at: list[float | None] = [None] * len(synthesizers)
        self._refused = [False] * len(synthesizers)
        self._status: SynthesizerStatus | None = None
        self._looks: list[asyncio.Task[None]] = []

    async def status(self) -> SynthesizerStatus | None:
        """The first synthesizer's status while every synthesizer is healthy, else None."""
        loop = asyncio.get_running_loop()
        now = self._clock()
        if (self._looked_at is None or now - self._looked_at >= self.refresh_s) and not self._looking:
            self._looked_at = now
            # a question left unanswered by an earlier look still counts from when it was asked
            self._asked_at = [now if asked is None else asked for asked in self._asked_at]
            self._looks = [asyncio.ensure_future(self._look_at(n)) for n in range(len(self.synthesizers))]
        # nothing says healthy yet (no answer so far): wait briefly for the look under way
        deadline = loop.time() + WAIT_FOR_LOOK_S
        while self._verdict(self._clock()) is None and self._looking and (left := deadline - loop.time()) > 0:
            await asyncio.wait([look for look in self._looks if not look.done()], timeout=left,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        return self._verdict(self._clock())

    @property
    def _looking(self) -> bool:
        return any(not look.done() for look in self._looks)

    def _verdict(self, now: float) -> SynthesizerStatus | None:
        if any(self._refused) or None in self._answered_at:
            return None
        if any(asked is not None and now - asked > self.grace_s for asked in self._asked_at):
            return None
        return self._status

    async def _look_at(self, n: int) -> None:
        """One synthesizer's answer, recorded as soon as it comes, so a slow one holds up no other."""
        try:
            status = await asyncio.wait_for(self.synthesizers[n].status(), self.grace_s)
        except TimeoutError:
            return  # a busy synthesizer is given its grace; past it, unhealthy until it answers
        except Exception as exc:
            log.info("synthesizer %d is not healthy: %r", n, exc)
            self._refused[n] = True
            self._asked_at[n] = None
            return
        self._refused[n] = False
        self._answered_at[n] = self._clock()
        self._asked_at[n] = None
        if n == 0:
            self._status = status
