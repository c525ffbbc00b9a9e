"""Admission: taken when the projection says it finishes in time, started in arrival order, refused
at once with a Retry-After from the projection. A fake clock stands in for the time that passes."""

import asyncio
import contextlib

import pytest

from serving.admission import RATE_WINDOW_S, Admission, AdmissionLimits
from serving.errors import Busy

from .conftest import Clock, eventually

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
    async with gate.admit(50_000) as place:
        assert place.started and gate.backlog == 50_000


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
        await held(gate, 900, first_held)
        order: list[str] = []

        async def request(name: str, chars: int, release: asyncio.Event) -> None:
            async with gate.admit(chars):
                order.append(name)
                await release.wait()

        done = asyncio.Event()
        long = asyncio.ensure_future(request("long", 900, done))
        await eventually(lambda: gate.queued == 1)
        short = asyncio.ensure_future(request("short", 50, done))  # would fit beside the first: must not pass
        await eventually(lambda: gate.queued == 2)
        assert order == [] and gate.requests == 1
    await eventually(lambda: len(order) == 2)
    assert order == ["long", "short"]  # both fit once the first ended, in arrival order
    done.set()
    await asyncio.gather(long, short)
    assert gate.requests == gate.backlog == gate.in_flight_chars == 0


async def test_spoken_text_makes_room_and_measures_the_rate():
    clock = Clock()
    gate = admission(clock, deadline_s=1_000.0, max_chars=1_000)
    async with gate.admit(800) as place:
        second = gate.admit(500)  # kept: a context manager collected early would end its place
        waiting = asyncio.ensure_future(second.__aenter__())
        await eventually(lambda: gate.queued == 1)
        clock.now += RATE_WINDOW_S
        place.spoken(400)  # 400 characters in 5 s of busy time
        await eventually(waiting.done)
        assert gate.requests == 2  # 400 + 500 not yet spoken fit the 1,000
        assert gate.rate == 80.0 and gate.backlog == 900
        clock.now += RATE_WINDOW_S
        place.spoken(200)  # a slower window: the mean moves 30 % of the way towards it
        assert gate.rate == pytest.approx(80.0 + 0.3 * (40.0 - 80.0))
        await second.__aexit__(None, None, None)
    assert gate.backlog == gate.requests == 0


async def test_idle_time_is_not_counted_in_the_rate():
    clock = Clock()
    gate = admission(clock)
    clock.now += 1_000.0  # idle
    async with gate.admit(300) as place:
        clock.now += RATE_WINDOW_S
        place.spoken(300)
    assert gate.rate == 60.0


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
