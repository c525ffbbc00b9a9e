"""The client of the synthesizers: which lane a chunk goes to, and when it is asked for."""

import asyncio

import pytest

from schemas import TTSRequest
from serving.plan import ChunkPlan
from serving.schedule import FairScheduler
from serving.synthesize import Lane, opening_lane, spoken_chunks

from .conftest import FakeSynthesizer

pytestmark = pytest.mark.anyio

LONG = "First sentence here. " + "Then many more words follow in a longer second sentence, and so on. " * 6


def lanes(delay_s: float = 0.05) -> tuple[Lane, Lane]:
    return Lane(FakeSynthesizer(delay_s), FairScheduler(1)), Lane(FakeSynthesizer(delay_s), FairScheduler(1))


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
    first, later = lanes()
    request = TTSRequest(text=LONG, voice="af_heart")
    plan = await ChunkPlan.start(planner, request)
    queued_behind: list[tuple[str, int]] = []  # (lane rendering a chunk, chunks queued in the later lane meanwhile)
    for name, lane in (("first", first), ("later", later)):
        original = lane.synthesizer.synthesize

        async def recording(jobs, name=name, original=original):
            await asyncio.sleep(0.01)
            queued_behind.append(
                (name, later.scheduler.waiting + (0 if later.scheduler.idle or name == "later" else 1))
            )
            return await original(jobs)

        lane.synthesizer.synthesize = recording
    spoken = [chunk async for chunk, _ in spoken_chunks(plan, request, first, later)]
    assert len(spoken) >= 3
    assert queued_behind[0] == ("first", 0)  # nothing asked of the later lane beside the first chunk
    # then each chunk renders in the later lane with the next one already queued behind it
    assert queued_behind[1:] == [("later", 1)] * (len(spoken) - 2) + [("later", 0)]


async def test_two_requests_starting_together_open_in_different_lanes(planner):
    first, later = lanes()
    request = TTSRequest(text=LONG, voice="af_heart")
    plans = [await ChunkPlan.start(planner, request) for _ in range(2)]
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

    await asyncio.gather(*(opening(plan) for plan in plans))
    assert openings[:2] == [first, later]
