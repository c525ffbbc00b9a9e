"""Whose sockets these are: how many each client address holds, which addresses are turned
away for a while after one of their sockets was closed for abuse, and how many of an address's
contexts are waiting for their first audio.

A socket closed for flooding or for a message far over the limit ends that socket, but the
client reconnects at once, and each new socket starts runs whose chunks, once inside the model,
are rendered to their end whether or not anyone is left to hear them (on CPU, seconds of the
cores every other client's first audio waits for). Turning the address away for a while is
what bounds that. The address is the one the server's HTTP layer reports: behind a proxy, the
client's own only where the proxy is trusted to say so (uvicorn's FORWARDED_ALLOW_IPS; 127.0.0.1
by default, so nginx on the same host), else the proxy's, which all its clients then share.

A client that opens many contexts at once (within its limits) would otherwise have each one's
first chunk due as it arrives, beside everyone else's: a dozen first chunks ahead of another
client's, in the lane every first audio waits for. A context's first chunk is due behind the
address's own contexts still waiting for theirs, OWN_OPENING_SPACING_S for each.
"""

import collections
from collections.abc import Callable

#: addresses remembered at most (sockets held, or turned away): a bound on memory, whatever the
#: number of clients; the oldest refusal is forgotten first
MAX_ADDRESSES = 10_000
#: how much later a context's chunks are due for each of its address's contexts still waiting for
#: their first audio: about what one first audio costs the first lane on CPU (a first window of
#: a sentence); on a GPU's batches it only orders them
OWN_OPENING_SPACING_S = 0.5


class Opening:
    """A context waiting for its first audio: counted against its address until `heard`."""

    def __init__(self, waiting: collections.Counter[str], address: str):
        self._waiting = waiting
        self._address = address
        #: the address's contexts that were waiting for their first audio when this one began
        self.behind = waiting[address]
        waiting[address] += 1
        self._counted = True

    @property
    def due_later_s(self) -> float:
        return self.behind * OWN_OPENING_SPACING_S

    def heard(self) -> None:
        """The context's first audio was sent, or it ended: it waits no more. Idempotent."""
        if not self._counted:
            return
        self._counted = False
        self._waiting[self._address] -= 1
        if self._waiting[self._address] <= 0:
            del self._waiting[self._address]


class SocketClients:
    def __init__(self, max_sockets: int, cooldown_s: float, clock: Callable[[], float]):
        """`max_sockets`: sockets one address may hold at once; `cooldown_s`: how long an
        address is turned away after one of its sockets was closed for abuse (0: never)."""
        self.max_sockets = max_sockets
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._sockets: collections.Counter[str] = collections.Counter()
        self._refused_until: collections.OrderedDict[str, float] = collections.OrderedDict()
        #: contexts waiting for their first audio, by address: only addresses holding sockets
        self._opening: collections.Counter[str] = collections.Counter()

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

    def opening(self, address: str) -> Opening:
        """A context of `address` begins: its first audio is due behind the address's own waiting."""
        return Opening(self._opening, address)

    def abused(self, address: str) -> None:
        """One of `address`'s sockets was closed for abuse: new ones are refused for cooldown_s."""
        if self.cooldown_s <= 0:
            return
        self._refused_until.pop(address, None)
        self._refused_until[address] = self._clock() + self.cooldown_s
        while len(self._refused_until) > MAX_ADDRESSES:
            self._refused_until.popitem(last=False)
