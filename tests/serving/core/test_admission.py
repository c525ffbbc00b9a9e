"""Admission: taken when the projection says it finishes in time, started in arrival order, refused
at once with a Retry-After from the projection. A fake clock stands in for the time that passes."""

import asyncio
import contextlib

import pytest

from serving.core.admission import RATE_WINDOW_S, SATURATED_BACKLOG, Admission, AdmissionLimits
from serving.core.errors import Busy

from ..conftest import Clock, eventually

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


def admission(clock: Clock | None = None, **limits: object) -> Admission:
    base = AdmissionLimits(
        max_requests=4, max_chars=1_000, deadline_s=10.0, max_queued=8, max_wait_s=None, initial_rate=100.0
    )
    return Admission(AdmissionLimits(**{**base.__dict__, **limits}), clock or Clock())


async def held(gate: Admission, chars: int, stack: contextlib.AsyncExitStack):
    return await stack.enter_async_context(gate.admit(chars))


async def test_an_idle_server_takes_any_valid_text_however_long():
    gate = admission(deadline_s=1.0)
    async with gate.admit(50_000) as ticket:
        assert ticket.started and gate.backlog == 50_000


async def test_a_request_that_would_finish_late_is_refused_at_once_with_the_projected_wait():
    gate = admission(max_requests=1)  # 10 s at 100 characters per second: 1,000 characters
    async with contextlib.AsyncExitStack() as stack:
        await held(gate, 600, stack)
        assert gate.projected_s(400) == 10.0
        waiting = asyncio.ensure_future(held(gate, 400, stack))  # fits the deadline: waits its turn
        await eventually(lambda: gate.queued == 1)
        assert not waiting.done()
        with pytest.raises(Busy) as refused:
            async with gate.admit(250):
                pass
        assert refused.value.headers["Retry-After"] == "3"  # 250 over capacity at 100 per second: 2.5 s
        assert "would not be finished within 10 s" in refused.value.message
        assert gate.backlog == 1_000 and gate.queued == 1
        waiting.cancel()


async def test_requests_start_in_arrival_order_and_a_long_one_at_the_head_holds_its_turn():
    gate = admission(deadline_s=1_000.0)
    async with contextlib.AsyncExitStack() as first_held:
        await held(gate, 300, first_held)
        await held(gate, 300, first_held)
        order: list[str] = []

        async def request(name: str, chars: int, release: asyncio.Event) -> None:
            async with gate.admit(chars):
                order.append(name)
                await release.wait()

        done = asyncio.Event()
        long = asyncio.ensure_future(request("long", 900, done))  # counts 500: 600 + 500 do not fit 1,000
        await eventually(lambda: gate.queued == 1)
        short = asyncio.ensure_future(request("short", 50, done))  # would fit beside the first two: must not pass
        await eventually(lambda: gate.queued == 2)
        assert order == [] and gate.requests == 2
    await eventually(lambda: len(order) == 2)
    assert order == ["long", "short"]  # both fit once the first ended, in arrival order
    done.set()
    await asyncio.gather(long, short)
    assert gate.requests == gate.backlog == gate.in_flight_chars == 0


async def test_a_short_request_beside_a_text_longer_than_the_limit_starts_at_once():
    gate = admission(deadline_s=1_000.0)  # max_chars 1,000: a request counts at most 500 of them
    async with contextlib.AsyncExitStack() as stack:
        await held(gate, 50_000, stack)
        short = await held(gate, 12, stack)
        assert short.started and gate.requests == 2
        another = asyncio.ensure_future(held(gate, 20_000, stack))  # 500 + 12 + 500 do not fit
        await eventually(lambda: gate.queued == 1)
        short.advance(12)  # 500 + 0 + 500 do
        await eventually(another.done)
        assert gate.requests == 3


async def test_spoken_text_makes_room_and_measures_the_rate():
    clock = Clock()
    gate = admission(clock, deadline_s=1_000.0, max_chars=1_000)  # a request counts at most 500
    async with gate.admit(800) as ticket, gate.admit(300):
        third = gate.admit(500)  # kept: a context manager collected early would end its ticket
        waiting = asyncio.ensure_future(third.__aenter__())
        await eventually(lambda: gate.queued == 1)  # 500 + 300 + 500 do not fit
        clock.now += RATE_WINDOW_S
        ticket.advance(600)  # 600 characters in 5 s of busy time
        await eventually(waiting.done)
        assert gate.requests == 3  # 200 + 300 + 500 fit the 1,000
        assert gate.rate == 120.0 and gate.backlog == 1_000
        clock.now += RATE_WINDOW_S
        ticket.advance(200)  # a slower window: the mean moves 30 % of the way towards it
        assert gate.rate == pytest.approx(120.0 + 0.3 * (40.0 - 120.0))
        await third.__aexit__(None, None, None)
    assert gate.backlog == gate.requests == 0


async def test_idle_time_is_not_counted_in_the_rate():
    clock = Clock()
    gate = admission(clock)
    clock.now += 1_000.0  # idle
    async with gate.admit(600) as ticket:
        clock.now += RATE_WINDOW_S
        ticket.advance(600)
    assert gate.rate == 120.0


async def test_light_traffic_does_not_teach_the_rate_and_a_long_text_beside_one_short_one_is_taken():
    clock = Clock()
    gate = admission(clock, deadline_s=100.0, max_chars=10_000)  # 10,000 characters at 100 per second
    for _ in range(10):  # short requests one at a time, each 5 s from start to end: 6 characters a second
        async with gate.admit(30) as ticket:
            clock.now += 5.0
            ticket.advance(30)
    assert gate.rate == 100.0
    async with gate.admit(SATURATED_BACKLOG) as ticket:  # saturated: sampled
        clock.now += RATE_WINDOW_S
        ticket.advance(SATURATED_BACKLOG)
    assert gate.rate == SATURATED_BACKLOG / RATE_WINDOW_S
    async with contextlib.AsyncExitStack() as stack:
        await held(gate, 7_900, stack)
        await held(gate, 12, stack)  # 7,912 characters at 80 per second: 98.9 s
        assert gate.requests == 2


async def test_a_fleet_wait_bound_refuses_what_cannot_start_in_time():
    gate = admission(max_requests=1, max_wait_s=0.01)
    async with gate.admit(10):
        with pytest.raises(Busy) as refused:
            async with gate.admit(10):
                pass
    assert "no place came free in time" in refused.value.message
    assert gate.queued == 0 and gate.backlog == 0


async def test_the_queue_is_bounded():
    gate = admission(max_requests=1, max_queued=1)
    async with contextlib.AsyncExitStack() as stack:
        await held(gate, 10, stack)
        waiting = asyncio.ensure_future(held(gate, 10, stack))
        await eventually(lambda: gate.queued == 1)
        with pytest.raises(Busy, match="1 requests are waiting"):
            async with gate.admit(10):
                pass
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
    assert gate.queued == 0 and gate.backlog == 0


async def test_a_request_cancelled_while_waiting_gives_back_its_characters():
    gate = admission(max_requests=1)
    async with gate.admit(100):
        waiting = asyncio.ensure_future(gate.admit(200).__aenter__())
        await eventually(lambda: gate.queued == 1)
        assert gate.backlog == 300
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert gate.backlog == 100 and gate.queued == 0


async def test_an_answer_is_due_after_the_answers_before_it_and_not_after_a_stream():
    clock = Clock()
    gate = admission(clock, deadline_s=1_000.0, max_chars=100_000)  # 100 characters per second
    async with contextlib.AsyncExitStack() as stack:
        stream = await stack.enter_async_context(gate.admit(9_000))
        assert stream.finish_by is None  # a stream's chunks are due as its audio plays
        first = await stack.enter_async_context(gate.admit(300, answered_whole=True))
        assert first.finish_by == 3.0  # the stream ahead of it is not counted
        second = await stack.enter_async_context(gate.admit(200, answered_whole=True))
        assert second.finish_by == 5.0  # after the first answer: answers finish in arrival order
        assert gate.projected_s(100) == 96.0  # refusal still counts all the work taken
