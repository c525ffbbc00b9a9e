"""Admission: places by count and by characters, a bounded first-come-first-served wait, 429 past it."""

import asyncio

import pytest

from serving.admission import Admission
from serving.errors import Busy

pytestmark = pytest.mark.anyio


async def hold(admission: Admission, chars: int, release: asyncio.Event) -> None:
    async with admission.admit(chars):
        await release.wait()


async def test_admits_up_to_the_count_then_refuses_without_a_queue():
    admission = Admission(max_requests=2, max_chars=1_000, max_queued=0, max_wait_s=1)
    release = asyncio.Event()
    holders = [asyncio.ensure_future(hold(admission, 10, release)) for _ in range(2)]
    await asyncio.sleep(0)
    assert admission.requests == 2
    with pytest.raises(Busy) as refused:
        async with admission.admit(10):
            pass
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    release.set()
    await asyncio.gather(*holders)
    assert (admission.requests, admission.chars) == (0, 0)


async def test_a_text_longer_than_the_budget_is_admitted_alone():
    admission = Admission(max_requests=4, max_chars=100, max_queued=0, max_wait_s=0)
    async with admission.admit(5_000):
        assert admission.chars == 5_000
        with pytest.raises(Busy):
            async with admission.admit(1):
                pass


async def test_waiters_get_places_in_arrival_order_within_their_wait():
    admission = Admission(max_requests=1, max_chars=1_000, max_queued=2, max_wait_s=1)
    release = asyncio.Event()
    order: list[str] = []

    async def wait_then_note(name: str) -> None:
        async with admission.admit(1):
            order.append(name)

    holder = asyncio.ensure_future(hold(admission, 1, release))
    await asyncio.sleep(0)
    waiters = [asyncio.ensure_future(wait_then_note(name)) for name in ("first", "second")]
    await asyncio.sleep(0.01)
    assert admission.queued == 2
    with pytest.raises(Busy):  # the queue is full
        async with admission.admit(1):
            pass
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == ["first", "second"]


async def test_a_wait_past_its_bound_is_refused_and_leaves_the_queue():
    admission = Admission(max_requests=1, max_chars=1_000, max_queued=5, max_wait_s=0.05)
    release = asyncio.Event()
    holder = asyncio.ensure_future(hold(admission, 1, release))
    await asyncio.sleep(0)
    with pytest.raises(Busy):
        async with admission.admit(1):
            pass
    assert admission.queued == 0
    release.set()
    await holder
    assert admission.requests == 0


async def test_a_cancelled_waiter_leaves_no_trace():
    admission = Admission(max_requests=1, max_chars=1_000, max_queued=5, max_wait_s=5)
    release = asyncio.Event()
    holder = asyncio.ensure_future(hold(admission, 1, release))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(hold(admission, 1, asyncio.Event()))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert admission.queued == 0
    release.set()
    await holder
    assert (admission.requests, admission.chars) == (0, 0)
