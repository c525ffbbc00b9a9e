"""Whose sockets these are: how many each client address holds, which addresses are turned
away for a while after one of their sockets was closed for abuse, and when each address's next
first-audio turn comes.

A socket closed for flooding or for a message far over the limit ends that socket, but the
client reconnects at once, and each new socket starts runs whose chunks, once inside the model,
are rendered to their end whether or not anyone is left to hear them (on CPU, seconds of the
cores every other client's first audio waits for). Turning the address away for a while is
what bounds that. The address is the one the server's HTTP layer reports: behind a proxy, the
client's own only where the proxy is trusted to say so (uvicorn's FORWARDED_ALLOW_IPS; 127.0.0.1
by default, so nginx on the same host), else the proxy's, which all its clients then share.

A client that opens many contexts (within its limits) would otherwise have each one's first
chunk due as it arrives, beside everyone else's: a dozen first chunks ahead of another client's,
in the lane every first audio waits for, and as many again each second. Each address's contexts
are given first-audio turns as a fair queue gives its flows their share: a context's first chunk
is due when the address's turn comes, at most one turn each OWN_OPENING_SPACING_S, not before it
arrives (`opening_due_later_s`), and one due later than it arrives is served where later chunks
are (serving.core.synthesize): a client over its share does not hold the first lane.
"""

import collections
from collections.abc import Callable

#: addresses remembered at most (sockets held, or turned away): a bound on memory, whatever the
#: number of clients; the oldest refusal is forgotten first
MAX_ADDRESSES = 10_000
#: the first-lane time an address's new context is counted as taking, whether it does or not:
#: twice what one first audio takes on a 2-core CPU (a first window of a sentence, 0.3 to 0.5 s).
#: An address that opens contexts faster than one each this often has its first chunks due
#: later and later, so they go when no other client's is waiting; one that opens them slower is
#: never held back. On a GPU's batches it only orders them
OWN_OPENING_SPACING_S = 1.0


class SocketClients:
    def __init__(self, max_sockets: int, cooldown_s: float, clock: Callable[[], float]):
        """`max_sockets`: sockets one address may hold at once; `cooldown_s`: how long an
        address is turned away after one of its sockets was closed for abuse (0: never)."""
        self.max_sockets = max_sockets
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._sockets: collections.Counter[str] = collections.Counter()
        self._refused_until: collections.OrderedDict[str, float] = collections.OrderedDict()
        #: when each address's next first-audio turn is (its clock's time): only addresses holding sockets
        self._next_turn: dict[str, float] = {}

    def refusal(self, address: str) -> str | None:
        """Why a new socket from `address` is turned away, or None: it is taken, and counted
        until `left`."""
        until = self._refused_until.get(address)
        if until is not None:
            wait_s = until - self._clock()
            if wait_s > 0:
                return (
                    f"a socket from this address was closed for abuse; new ones are refused for "
                    f"{wait_s:.0f} s more (TTS_WS_ABUSE_COOLDOWN_S)"
                )
            del self._refused_until[address]
        if self._sockets[address] >= self.max_sockets:
            return (
                f"this address holds {self._sockets[address]} sockets, the most it may "
                "(TTS_WS_MAX_SOCKETS_PER_CLIENT); use contexts on one socket, or close one first"
            )
        if len(self._sockets) >= MAX_ADDRESSES and address not in self._sockets:
            return "the server holds sockets for too many clients; try again later"
        self._sockets[address] += 1
        return None

    def left(self, address: str) -> None:
        self._sockets[address] -= 1
        if self._sockets[address] <= 0:
            del self._sockets[address]
            self._next_turn.pop(address, None)

    def opening_due_later_s(self, address: str) -> float:
        """A context of `address` asks for its first audio: how much later than now it is due,
        its address's turn taken."""
        now = self._clock()
        turn = max(now, self._next_turn.get(address, now))
        self._next_turn[address] = turn + OWN_OPENING_SPACING_S
        return turn - now

    def abused(self, address: str) -> None:
        """One of `address`'s sockets was closed for abuse: new ones are refused for cooldown_s."""
        if self.cooldown_s <= 0:
            return
        self._refused_until.pop(address, None)
        self._refused_until[address] = self._clock() + self.cooldown_s
        while len(self._refused_until) > MAX_ADDRESSES:
            self._refused_until.popitem(last=False)
