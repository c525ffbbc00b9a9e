"""Admission: a valid request is taken when the server can finish it in time, served in its turn,
and refused at once, with an honest Retry-After, when it cannot.

The projection is the backlog (characters of text admitted or waiting and not yet spoken) plus
the new request's, over the rate this server has measured (characters spoken per second while
busy). A request projected to finish within `deadline_s` is taken and joins the queue; one that
is not is refused with 429 and a Retry-After of when the projection says it would fit. An idle
server takes any valid text, however long.

The queue starts requests in arrival order, each once the work in flight leaves room for it
(`max_requests`, `max_chars` of text not yet spoken); a request at the head that does not fit
yet holds its turn, and no later one passes it, so a stream of short requests cannot starve a
long one. A request counts at most half of `max_chars`, in flight or asking to start: a long
text never holds the server alone, and a short request beside it starts at once (it waited for
half the long one to be spoken before), its chunks interleaved with the long one's.

For a fleet behind a load balancer, `max_wait_s` bounds the time in the queue: a request that
cannot start by then is refused, so that the balancer sends it to another replica (deploy/k8s).
BentoML's own `traffic.max_concurrency` answers 429 too, but counts health checks and gives no
Retry-After (bentoml/_internal/server/http/traffic.py), so it is not used.
"""

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .errors import Busy
from .metrics import ADMISSION_DEADLINE, BACKLOG_CHARS, IN_FLIGHT, QUEUED, SERVICE_RATE

#: seconds of busy time over which one sample of the speaking rate is taken
RATE_WINDOW_S = 5.0
#: weight of the newest sample in the running mean of the rate
RATE_SMOOTHING = 0.3
#: the measured rate is never taken below this share of the initial one: busy time also counts
#: streams whose clients read slowly, which hold a ticket while the model idles
MIN_RATE_SHARE = 0.25
#: the rate is sampled only while at least this many characters are not yet spoken (about two
#: full chunks of English): with less, the server mostly waits for its next request, and a sample
#: would measure how fast short requests arrive, not how fast it speaks; a rate learnt that way
#: from light traffic refused the next long text on a nearly idle server
SATURATED_BACKLOG = 400


@dataclass(frozen=True)
class AdmissionLimits:
    max_requests: int
    max_chars: int
    deadline_s: float
    max_queued: int
    #: None: a request waits for its turn as long as the deadline allows
    max_wait_s: float | None
    #: characters per second assumed until the server has measured its own rate
    initial_rate: float


class Ticket:
    """A request's hold on the server. Its characters not yet rendered count in the backlog until
    `advance` says they are (a chunk at a time), or the request ends."""

    def __init__(self, admission: "Admission", chars: int, finish_by: float | None):
        self._admission = admission
        self.remaining = chars
        #: a request answered whole: when the projection at admission said it would be finished
        #: (the clock's time), when its chunks are due; None for a stream, due as its audio plays
        self.finish_by = finish_by

    @property
    def started(self) -> bool:
        """Whether the request is in flight (not waiting for its turn, nor ended)."""
        return self in self._admission._in_flight

    def advance(self, chars: int) -> None:
        """`chars` more characters of the request's text have been rendered."""
        self._admission._advance(self, min(chars, self.remaining))


class Admission:
    def __init__(self, limits: AdmissionLimits, clock: Callable[[], float] = time.monotonic):
        """`clock` must keep the event loop's time (monotonic): a ticket's finish_by is a due time."""
        self.limits = limits
        self._clock = clock
        self.rate = limits.initial_rate
        self._measured = False
        #: the tickets of the requests in flight, and of all of them (in flight or waiting)
        self._in_flight: set[Ticket] = set()
        self._tickets: set[Ticket] = set()
        self._waiting: collections.deque[tuple[Ticket, asyncio.Future[None]]] = collections.deque()
        self._marked_at = clock()
        self._window_busy_s = 0.0
        self._window_chars = 0
        ADMISSION_DEADLINE.set(limits.deadline_s)
        self._publish()

    @contextlib.asynccontextmanager
    async def admit(self, chars: int, answered_whole: bool = False) -> AsyncIterator[Ticket]:
        """Holds a ticket for a request of `chars` characters while the block runs; raises Busy.

        A request `answered_whole` (JSON with timestamps) is due when the answers admitted before it,
        and it, would be spoken at the measured rate: answers finish in arrival order. Streams are
        not counted there: their chunks are due as their audio plays, and a long stream, far ahead
        of its listener, does not hold an answer back for its whole length."""
        self._refuse_if_late(chars)
        answers = sum(ticket.remaining for ticket in self._tickets if ticket.finish_by is not None)
        ticket = Ticket(self, chars, self._clock() + (answers + chars) / self.rate if answered_whole else None)
        self._account_busy_time()
        self._tickets.add(ticket)
        try:
            if self._waiting or not self._fits(chars):
                await self._wait_for_turn(ticket)
            else:
                self._start(ticket)
            self._publish()
            yield ticket
        finally:
            self._end(ticket)

    @property
    def queued(self) -> int:
        """Requests waiting for their turn: the metric and a refusal's message say it."""
        return len(self._waiting)

    @property
    def requests(self) -> int:
        return len(self._in_flight)

    @property
    def in_flight_chars(self) -> int:
        """Characters not yet spoken of the requests in flight."""
        return sum(ticket.remaining for ticket in self._in_flight)

    @property
    def backlog(self) -> int:
        """Characters not yet spoken of every request taken, in flight or waiting."""
        return sum(ticket.remaining for ticket in self._tickets)

    @property
    def capacity_chars(self) -> float:
        """Characters of text the server can take on now and still finish within the deadline."""
        return self.limits.deadline_s * self.rate

    def projected_s(self, chars: int) -> float:
        """When a request of `chars` characters arriving now would be finished, in seconds."""
        return (self.backlog + chars) / self.rate

    def _refuse_if_late(self, chars: int) -> None:
        if self.backlog and self.projected_s(chars) > self.limits.deadline_s:
            excess = self.backlog + chars - self.capacity_chars
            raise self._busy(f"it would not be finished within {self.limits.deadline_s:.0f} s", excess / self.rate)
        if (self._waiting or not self._fits(chars)) and self.queued >= self.limits.max_queued:
            raise self._busy(f"{self.queued} requests are waiting", self.in_flight_chars / self.rate)

    def _fits(self, chars: int) -> bool:
        if self.requests >= self.limits.max_requests:
            return False
        share = self.limits.max_chars // 2
        held = sum(min(ticket.remaining, share) for ticket in self._in_flight)
        return held + min(chars, share) <= self.limits.max_chars

    def _start(self, ticket: Ticket) -> None:
        self._in_flight.add(ticket)

    async def _wait_for_turn(self, ticket: Ticket) -> None:
        turn = asyncio.get_running_loop().create_future()
        entry = (ticket, turn)
        self._waiting.append(entry)
        self._publish()
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.limits.max_wait_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if not turn.done():
                turn.cancel()
                self._waiting.remove(entry)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if not ticket.started:
                raise self._busy("no place came free in time", self.in_flight_chars / self.rate) from None

    def _end(self, ticket: Ticket) -> None:
        self._account_busy_time()
        self._tickets.discard(ticket)
        self._in_flight.discard(ticket)
        ticket.remaining = 0
        self._wake()
        self._publish()

    def _advance(self, ticket: Ticket, chars: int) -> None:
        sampled = self._account_busy_time()
        ticket.remaining -= chars
        if sampled:
            self._window_chars += chars
        if self._window_busy_s >= RATE_WINDOW_S:
            sample = self._window_chars / self._window_busy_s
            rate = sample if not self._measured else self.rate + RATE_SMOOTHING * (sample - self.rate)
            self.rate = max(rate, MIN_RATE_SHARE * self.limits.initial_rate)
            self._measured = True
            self._window_busy_s, self._window_chars = 0.0, 0
        self._wake()
        self._publish()

    def _account_busy_time(self) -> bool:
        """Adds the time since the last mark to the rate's window if the server was saturated
        then (requests in flight, a backlog of SATURATED_BACKLOG); whether it did. Called before
        each change to the requests in flight or the backlog, so that they are as they were
        since the last mark."""
        now = self._clock()
        sampled = bool(self.requests) and self.backlog >= SATURATED_BACKLOG
        if sampled:
            self._window_busy_s += now - self._marked_at
        self._marked_at = now
        return sampled

    def _wake(self) -> None:
        """Starts waiting requests in arrival order; stops at the first that does not fit yet."""
        while self._waiting and self._fits(self._waiting[0][0].remaining):
            ticket, turn = self._waiting.popleft()
            self._start(ticket)
            turn.set_result(None)

    def _publish(self) -> None:
        IN_FLIGHT.set(self.requests)
        QUEUED.set(self.queued)
        BACKLOG_CHARS.set(self.backlog)
        SERVICE_RATE.set(self.rate)

    def _busy(self, why: str, retry_after_s: float) -> Busy:
        return Busy(
            f"the server is busy: {why} ({self.requests} requests in flight, {self.queued} waiting, "
            f"{self.backlog} characters not yet spoken at about {self.rate:.0f} per second)",
            retry_after_s,
        )
