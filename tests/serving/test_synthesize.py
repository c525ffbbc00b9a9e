"""The client of the synthesizers: which lane a chunk goes to, and when it is asked for."""

import asyncio

import pytest

from schemas import TTSRequest
from serving.plan import ChunkPlan
from serving.schedule import FairScheduler
from serving.synthesize import Lane, opening_lane, spoken_chunks

from .conftest import FakeSynthesizer, eventually

pytestmark = pytest.mark.anyio

LONG = "First sentence here. " + "Then many more words follow in a longer second sentence, and so on. " * 6


def lanes(held: bool = False) -> tuple[Lane, Lane]:
    return Lane(FakeSynthesizer(held), FairScheduler(1)), Lane(FakeSynthesizer(held), FairScheduler(1))


async def busy(lane: Lane, release: asyncio.Event) -> asyncio.Task:
    task = asyncio.ensure_future(lane.scheduler.run(0.0, release.wait))
    await asyncio.sleep(0)
    return task


async def test_a_first_chunk_goes_to_the_first_lane_unless_it_is_busy_and_the_later_lane_idle():
    first, later = lanes()
    assert opening_lane(first, later) is first
    release = asyncio.Event()
    holding_first = await busy(first, release)
    assert opening_lane(first, later) is later
    holding_later = await busy(later, release)
    assert opening_lane(first, later) is first  # both busy: the first lane's queue, least-served first
    assert opening_lane(first, first) is first
    release.set()
    await asyncio.gather(holding_first, holding_later)
    assert first.scheduler.idle and later.scheduler.idle


async def test_the_second_chunk_is_asked_for_once_the_first_is_done_and_later_ones_one_ahead(planner):
    first, later = lanes(held=True)
    request = TTSRequest(text=LONG, voice="af_heart")
    count = len(list(planner.plan(LONG, "af_heart", 1.0)))
    assert count >= 3
    plan = ChunkPlan(planner.chunks(LONG, "a"))
    consumer = asyncio.ensure_future(_spoken(spoken_chunks(plan, request, first, later)))
    opening = await first.synthesizer.next_call()
    assert later.scheduler.idle  # nothing asked of the later lane beside the first chunk
    opening.release()
    for n in range(2, count + 1):
        call = await later.synthesizer.next_call()
        # each later chunk renders with the next one already queued behind it, the last alone
        await eventually(lambda n=n: later.scheduler.waiting == (1 if n < count else 0))
        assert later.synthesizer.waiting_calls() == 0 and first.synthesizer.waiting_calls() == 0
        call.release()
    assert await consumer == count
    assert first.synthesizer.started == 1 and later.synthesizer.started == count - 1


async def _spoken(spoken) -> int:
    return len([chunk async for chunk, _ in spoken])


async def test_two_requests_starting_together_open_in_different_lanes(planner):
    first, later = lanes(held=True)
    request = TTSRequest(text=LONG, voice="af_heart")
    plans = [ChunkPlan(planner.chunks(LONG, "a")) for _ in range(2)]
    openings = []
    for lane in (first, later):
        original = lane.synthesizer.synthesize

        async def recording(jobs, lane=lane, original=original):
            openings.append(lane)
            return await original(jobs)

        lane.synthesizer.synthesize = recording

    async def opening(plan: ChunkPlan) -> None:
        async for _ in spoken_chunks(plan, request, first, later):
            return

    both = asyncio.gather(*(opening(plan) for plan in plans))
    held = [await first.synthesizer.next_call(), await later.synthesizer.next_call()]
    assert openings == [first, later]  # the second opened in the idle later lane, not behind the first
    for call in held:
        call.release()
    await both
