"""The client of the synthesizers: which lane a chunk goes to, and when it is asked for."""

import asyncio

import pytest

from schemas import TTSRequest
from serving.plan import ChunkPlan
from serving.schedule import FairScheduler
from serving.synthesize import Lane, due_at, opening_lane, spoken_chunks

from .conftest import WAIT_S, FakeSynthesizer, eventually, serve_until_done

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

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


async def test_a_first_window_then_the_rest_of_the_sentence_go_first_and_the_next_chunk_after(planner):
    first, later = lanes(held=True)
    request = TTSRequest(text=LONG * 2, voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    consumer = asyncio.ensure_future(_spoken(spoken_chunks(plan, request, first, later, first_window=10)))
    window = await first.synthesizer.next_call()
    assert [(job.frames_from, job.frames_to) for job in window.jobs] == [(0, 10)]
    assert later.scheduler.idle
    window.release()
    rest = await first.synthesizer.next_call()  # as urgent as the first: its listener is waiting
    assert [(job.frames_from, job.frames_to) for job in rest.jobs] == [(10, None)]
    assert rest.jobs[0].token_ids == window.jobs[0].token_ids
    call = await later.synthesizer.next_call()  # the next chunk, one ahead, whole
    assert [(job.frames_from, job.frames_to) for job in call.jobs] == [(0, None)]
    rest.release()
    call.release()
    await serve_until_done(later.synthesizer, consumer)
    assert await consumer == len(list(planner.chunks(request.text, "a"))) + 1


async def test_a_sentence_shorter_than_the_first_window_is_asked_for_once(planner):
    first, later = lanes()
    request = TTSRequest(text="Hi.", voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    assert await _spoken(spoken_chunks(plan, request, first, later, first_window=1_000)) == 1
    assert first.synthesizer.started + later.synthesizer.started == 1


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


def test_a_chunk_is_due_at_once_first_then_by_playback_for_a_stream_and_by_its_projection_for_an_answer():
    assert due_at(started=10.0, served_s=0.0, answer_by=None) == 10.0
    assert due_at(started=10.0, served_s=0.0, answer_by=300.0) == 10.0  # first audio soon, for answers too
    assert due_at(started=10.0, served_s=4.5, answer_by=None) == 14.5  # when the audio sent has played
    assert due_at(started=10.0, served_s=4.5, answer_by=300.0) == 300.0


async def test_a_newcomer_holds_an_older_answer_back_by_its_first_chunk_only(planner):
    """Two whole answers on one lane: the later one's first chunk goes at once, then the earlier
    one is finished before the later one goes on."""
    lane = Lane(FakeSynthesizer(held=True), FairScheduler(1))
    older_text = LONG * 2
    newer_text = "Meanwhile, a different speaker reads another passage aloud, slowly and with care. " * 8
    owner = {tuple(chunk.token_ids): "newer" for chunk in planner.plan(newer_text, "af_heart", 1.0)}
    owner |= {tuple(chunk.token_ids): "older" for chunk in planner.plan(older_text, "af_heart", 1.0)}
    now = asyncio.get_running_loop().time()

    def answer(text: str, answer_by: float) -> asyncio.Future:
        request = TTSRequest(text=text, voice="af_heart")
        plan = ChunkPlan(planner.chunks(text, "a"))
        return asyncio.ensure_future(_spoken(spoken_chunks(plan, request, lane, lane, answer_by)))

    totals = {"older": len(list(planner.chunks(older_text, "a"))), "newer": len(list(planner.chunks(newer_text, "a")))}
    older = answer(older_text, now + 100.0)  # due: answer_by below
    order = []
    for _ in range(2):
        call = await lane.synthesizer.next_call()
        order.append(owner[tuple(call.jobs[0].token_ids)])
        call.release()
    # the older answer's third chunk is in the model, its fourth waits
    await eventually(lambda: lane.synthesizer.waiting_calls() == 1 and lane.scheduler.waiting == 1)
    newer = answer(newer_text, now + 200.0)
    await eventually(lambda: lane.scheduler.waiting == 2)
    answer_by = {"older": now + 100.0, "newer": now + 200.0}

    def waiting_for(name: str) -> bool:
        """A chunk of this answer waits in the queue: told apart by when it is due (a first
        chunk is due as its answer starts, every later one when its answer is)."""
        dues = [due for due, *_ in lane.scheduler._waiting]
        return any(due == answer_by[name] or (name == "newer" and due < now + 50.0) for due in dues)

    while any(order.count(name) < total for name, total in totals.items()):
        call = await lane.synthesizer.next_call()
        current = owner[tuple(call.jobs[0].token_ids)]
        order.append(current)
        # each answer with chunks left has its next one waiting (G2P, in a worker thread, has caught
        # up, as it does behind a model far slower than a G2P step); but an answer's second chunk
        # is asked for only once its first is done
        left = [n for n, total in totals.items() if order.count(n) < total and (n != current or order.count(n) > 1)]
        await eventually(lambda left=left: all(waiting_for(name) for name in left))
        call.release()
    await asyncio.wait_for(asyncio.gather(older, newer), WAIT_S)
    older_count, newer_count = order.count("older"), order.count("newer")
    assert older_count > 4 and newer_count > 2
    # the newcomer's first chunk at once, then the older answer to its end, then the newer
    assert order == ["older"] * 3 + ["newer"] + ["older"] * (older_count - 3) + ["newer"] * (newer_count - 1)
