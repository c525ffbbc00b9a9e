import asyncio

import pytest

from serving.core.schedule import FairScheduler

pytestmark = pytest.mark.unit


def test_least_served_request_goes_first_once_the_slot_frees():
    async def scenario() -> list[str]:
        scheduler = FairScheduler(slots=1)
        order: list[str] = []
        release = asyncio.Event()

        async def job(name: str, hold: bool = False) -> None:
            order.append(name)
            if hold:
                await release.wait()

        running = asyncio.create_task(scheduler.run(0.0, lambda: job("first", hold=True)))
        await asyncio.sleep(0)
        queued = [
            asyncio.create_task(scheduler.run(served, lambda name=name: job(name)))
            for name, served in (("long stream", 120.0), ("other stream", 60.0), ("new short", 0.0))
        ]
        await asyncio.sleep(0)
        assert scheduler.waiting == 3
        release.set()
        await asyncio.gather(running, *queued)
        return order

    assert asyncio.run(scenario()) == ["first", "new short", "other stream", "long stream"]


def test_slots_bound_the_work_in_flight():
    async def scenario() -> int:
        scheduler = FairScheduler(slots=3)
        in_flight = peak = 0

        async def job() -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

        await asyncio.gather(*(scheduler.run(float(n), job) for n in range(20)))
        return peak

    assert asyncio.run(scenario()) == 3


def test_a_cancelled_waiter_gives_its_place_away_and_a_failing_job_its_slot():
    async def scenario() -> list[str]:
        scheduler = FairScheduler(slots=1)
        order: list[str] = []
        release = asyncio.Event()

        async def hold() -> None:
            await release.wait()
            raise RuntimeError("synthesis failed")

        async def job(name: str) -> None:
            order.append(name)

        failing = asyncio.create_task(scheduler.run(0.0, hold))
        await asyncio.sleep(0)
        gone = asyncio.create_task(scheduler.run(0.0, lambda: job("gone")))
        kept = asyncio.create_task(scheduler.run(5.0, lambda: job("kept")))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        with pytest.raises(RuntimeError):
            await failing
        await kept
        await scheduler.run(0.0, lambda: job("after"))
        return order

    assert asyncio.run(scenario()) == ["kept", "after"]


def test_a_caller_that_leaves_while_its_work_runs_holds_the_slot_until_the_work_is_done():
    async def scenario() -> list[str]:
        scheduler = FairScheduler(slots=1)
        order: list[str] = []
        release = asyncio.Event()

        async def rendering() -> str:
            await release.wait()
            order.append("abandoned work done")
            return "audio nobody hears"

        async def job(name: str) -> None:
            order.append(name)

        left = asyncio.create_task(scheduler.run(0.0, rendering))
        await asyncio.sleep(0)
        later = asyncio.create_task(scheduler.run(9.0, lambda: job("later")))
        newcomer = asyncio.create_task(scheduler.run(1.0, lambda: job("newcomer")))
        await asyncio.sleep(0)
        left.cancel()  # its client left: the caller stops waiting, the synthesizer does not
        with pytest.raises(asyncio.CancelledError):
            await left
        await asyncio.sleep(0)
        assert order == [] and not scheduler.idle  # the slot stays with the work in flight
        release.set()
        await asyncio.gather(later, newcomer)
        assert scheduler.idle
        return order

    # then the queue's own order: the chunk due first, not the one sent first
    assert asyncio.run(scenario()) == ["abandoned work done", "newcomer", "later"]


def test_work_that_fails_after_its_caller_left_frees_the_slot():
    async def scenario() -> bool:
        scheduler = FairScheduler(slots=1)
        release = asyncio.Event()

        async def failing() -> None:
            await release.wait()
            raise RuntimeError("synthesis failed")

        left = asyncio.create_task(scheduler.run(0.0, failing))
        await asyncio.sleep(0)
        left.cancel()
        release.set()
        await scheduler.run(0.0, lambda: asyncio.sleep(0))  # waits for the failed work's slot
        return scheduler.idle

    assert asyncio.run(scenario())
