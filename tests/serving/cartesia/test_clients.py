"""Per client address: the sockets it may hold, the while it is turned away after abuse, and its
contexts' first audio queued behind its own."""

import asyncio
import json
import logging

import pytest

from serving.cartesia import agent_socket, clients, routes
from serving.cartesia.clients import OWN_OPENING_SPACING_S, SocketClients
from serving.cartesia.messages import PATH
from serving.core.errors import POLICY_VIOLATION

from ..conftest import Clock, SocketClient, eventually, serve_until_done
from .test_cartesia import limited, say

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


def test_an_address_holds_at_most_its_sockets_and_is_turned_away_for_a_while_after_abuse():
    clock = Clock()
    sockets = SocketClients(max_sockets=2, cooldown_s=30.0, clock=clock)
    assert sockets.refusal("a") is None and sockets.refusal("a") is None
    assert "TTS_WS_MAX_SOCKETS_PER_CLIENT" in sockets.refusal("a")
    assert sockets.refusal("b") is None  # another address is counted apart
    sockets.left("a")
    assert sockets.refusal("a") is None
    sockets.abused("a")
    clock.now = 29.0
    refusal = sockets.refusal("a")
    assert "TTS_WS_ABUSE_COOLDOWN_S" in refusal and "1 s more" in refusal
    sockets.left("a")
    sockets.left("a")
    clock.now = 30.0
    assert sockets.refusal("a") is None  # the while is over
    never = SocketClients(max_sockets=2, cooldown_s=0.0, clock=clock)
    never.abused("a")
    assert never.refusal("a") is None


def test_the_addresses_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(clients, "MAX_ADDRESSES", 3)
    sockets = SocketClients(max_sockets=1, cooldown_s=30.0, clock=Clock())
    for address in "abcd":
        sockets.abused(address)
    assert sockets.refusal("a") is None  # the oldest refusal forgotten first
    sockets.left("a")
    assert all(sockets.refusal(address) is not None for address in "bcd")
    for address in "efg":
        assert sockets.refusal(address) is None
    assert "too many clients" in sockets.refusal("h")


async def test_a_client_whose_socket_was_closed_for_a_flood_is_turned_away_and_others_are_not(make_server):
    served = make_server(settings=limited(max_messages_s=3))
    async with SocketClient(served.app, PATH, client="10.0.0.7") as socket:
        for _ in range(10):
            await socket.send({"context_id": "nothing", "cancel": True})
        _, closed = await socket.until_closed()
    assert closed["code"] == POLICY_VIOLATION
    async with SocketClient(served.app, PATH, client="10.0.0.7") as again:
        messages, closed = await again.until_closed()
    assert closed["code"] == agent_socket.TRY_AGAIN_LATER and "TTS_WS_ABUSE_COOLDOWN_S" in closed["reason"]
    assert messages[-1]["type"] == "error" and messages[-1]["status_code"] == 429
    async with SocketClient(served.app, PATH, client="10.0.0.8") as other:
        await other.send(say("t", "Still served.", more=False))
        assert (await other.until_end("t"))[-1]["type"] == "done"


async def test_a_socket_closed_for_a_message_too_big_to_read_turns_its_address_away(make_server):
    served = make_server()
    async with SocketClient(served.app, PATH, client="10.0.0.9") as socket:
        socket.leave(agent_socket.MESSAGE_TOO_BIG)
    async with SocketClient(served.app, PATH, client="10.0.0.9") as again:
        _, closed = await again.until_closed()
    assert closed["code"] == agent_socket.TRY_AGAIN_LATER


async def test_an_address_holds_at_most_its_sockets_at_once(make_server):
    served = make_server(settings=limited(max_sockets_per_client=2))
    async with SocketClient(served.app, PATH) as one, SocketClient(served.app, PATH) as two:
        async with SocketClient(served.app, PATH) as three:
            messages, closed = await three.until_closed()
        assert "TTS_WS_MAX_SOCKETS_PER_CLIENT" in closed["reason"] and messages[-1]["status_code"] == 429
        await two.send(say("t", "Served beside.", more=False))
        assert (await two.until_end("t"))[-1]["type"] == "done"
        assert one.closed is None
    async with SocketClient(served.app, PATH) as later:  # the two are closed: room again
        await later.send(say("t", "Room again.", more=False))
        assert (await later.until_end("t"))[-1]["type"] == "done"


async def test_where_the_server_can_answer_the_handshake_a_client_turned_away_gets_an_http_429(make_server):
    served = make_server(settings=limited(max_messages_s=3))
    async with SocketClient(served.app, PATH, client="10.0.0.5") as socket:
        for _ in range(10):
            await socket.send({"context_id": "nothing", "cancel": True})
        await socket.until_closed()
    async with SocketClient(served.app, PATH, client="10.0.0.5", denial=True) as again:
        assert again.denied is not None and again.closed is None
    status, body = again.denied
    error = json.loads(body)
    assert status == 429 and error["status_code"] == 429 and "TTS_WS_ABUSE_COOLDOWN_S" in error["error"]


def test_an_addresss_contexts_take_first_audio_turns_at_most_one_each_spacing():
    clock = Clock()
    sockets = SocketClients(max_sockets=2, cooldown_s=30.0, clock=clock)
    assert sockets.refusal("a") is None
    spacing = OWN_OPENING_SPACING_S
    assert [sockets.opening_due_later_s("a") for _ in range(3)] == [0, spacing, 2 * spacing]  # a burst
    assert sockets.opening_due_later_s("b") == 0  # another address is counted apart
    clock.now = 2.5 * spacing
    assert sockets.opening_due_later_s("a") == pytest.approx(0.5 * spacing)  # its turns are still ahead
    clock.now = 10 * spacing
    assert sockets.opening_due_later_s("a") == 0  # one no faster than a turn each spacing: never held back
    clock.now = 10.5 * spacing
    assert sockets.opening_due_later_s("a") == pytest.approx(0.5 * spacing)
    sockets.left("a")  # its last socket gone: its turns are forgotten
    assert sockets.opening_due_later_s("a") == 0


async def test_a_client_opening_many_contexts_waits_behind_its_own_not_another_clients_first_audio(make_server):
    """A's three contexts arrive before B's one, while the model is busy with A's first: B's first
    chunk goes next, then A's others (due as they arrive, they would have gone before it)."""
    served = make_server(held=True)
    lane = served.server.first_lane
    async with (
        SocketClient(served.app, PATH, client="10.0.0.1") as a,
        SocketClient(served.app, PATH, client="10.0.0.2") as b,
    ):
        await a.send(say("a1", "Hello.", more=False, max_buffer_delay_ms=0))
        inside = await served.fake.next_call()
        for context_id in ("a2", "a3"):
            await a.send(say(context_id, "Hello.", more=False, max_buffer_delay_ms=0))
        await eventually(lambda: lane.scheduler.waiting == 2)
        await b.send(say("b", "Another client speaks here.", more=False, max_buffer_delay_ms=0))
        await eventually(lambda: lane.scheduler.waiting == 3)
        inside.release()
        after = await served.fake.next_call()
        spoken = len(inside.jobs[0].token_ids)
        assert len(after.jobs[0].token_ids) > spoken  # B's sentence, not A's "Hello."
        after.release()
        ends = [asyncio.ensure_future(until_done(a, {"a1", "a2", "a3"})), asyncio.ensure_future(until_done(b, {"b"}))]
        await serve_until_done(served.fake, *ends)
    for end in ends:
        end.result()  # every context done, none failed


async def until_done(socket: SocketClient, context_ids: set[str]) -> None:
    """Reads the socket until each of `context_ids` is done (an error fails the test)."""
    while context_ids:
        message = await socket.receive()
        assert message["type"] != "error", message
        if message["type"] == "done":
            context_ids.discard(message["context_id"])


async def test_uvicorns_error_after_a_denial_response_is_dropped_and_no_other_line(make_server):
    make_server()  # the app registers the filter on uvicorn's error log
    uvicorn_log = logging.getLogger("uvicorn.error")
    records = [
        logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, message, None, None)
        for message in (routes.INCOMPLETE_HANDSHAKE, "Exception in ASGI application\n")
    ]
    assert [uvicorn_log.filter(record) for record in records] == [False, True]
