"""The client of the synthesizers: which lane a chunk goes to (serving.core.lanes), and when it is asked for."""

import asyncio

import pytest

from engine.synthesis import ChunkAudio, ChunkJob
from engine.text import Chunk
from schemas import TTSRequest
from serving.core import lanes, synthesize
from serving.core.errors import NotReady
from serving.core.lanes import Lane, needs_s, opening_lane, render_hedged, to_hedge
from serving.core.plan import ChunkPlan
from serving.core.schedule import FairScheduler
from serving.core.synthesize import INTERACTIVE_ANSWER_S, Playback, due_at, rendered_chunks

from ..conftest import WAIT_S, Clock, FakeSynthesizer, HeldCall, eventually, serve_until_done

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

LONG = "First sentence here. " + "Then many more words follow in a longer second sentence, and so on. " * 6


def lanes_of(held: bool = False) -> tuple[Lane, Lane]:
    return Lane(FakeSynthesizer(held), FairScheduler(1)), Lane(FakeSynthesizer(held), FairScheduler(1))


async def busy(lane: Lane, release: asyncio.Event) -> asyncio.Task:
    task = asyncio.ensure_future(lane.scheduler.run(0.0, release.wait))
    await asyncio.sleep(0)
    return task


async def test_a_first_chunk_goes_to_the_first_lane_unless_it_is_busy_and_the_later_lane_idle():
    first, later = lanes_of()
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
    first, later = lanes_of(held=True)
    request = TTSRequest(text=LONG, voice="af_heart")
    count = len(list(planner.plan(LONG, "af_heart", 1.0)))
    assert count >= 3
    plan = ChunkPlan(planner.chunks(LONG, "a"))
    consumer = asyncio.ensure_future(_count_chunks(rendered_chunks(plan, request, first, later)))
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


#: one sentence of 100 tokens and more (the fake gives a token 2 frames), then more sentences
ONE_LONG_SENTENCE = "Then many more words follow" + ", and many more words follow" * 8 + ". " + LONG


async def test_a_first_window_then_the_rest_of_the_sentence_go_first_and_the_next_chunk_after(planner):
    first, later = lanes_of(held=True)
    request = TTSRequest(text=ONE_LONG_SENTENCE, voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    consumer = asyncio.ensure_future(_count_chunks(rendered_chunks(plan, request, first, later, first_window=10)))
    window = await first.synthesizer.next_call()
    assert [(job.frames_from, job.frames_to) for job in window.jobs] == [(0, 10)]  # no pace measured: the fewest
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


async def test_a_stream_due_later_for_its_clients_share_is_the_later_lanes_alone(planner, monkeypatch):
    """A client over its share of first-audio turns (serving.cartesia.clients) leaves the first
    lane to everyone else's first audio: its chunks are not asked of it even where another's would
    be (here: always, at once)."""
    monkeypatch.setattr(lanes, "STALL_CHECK_S", 0.0)
    monkeypatch.setattr(lanes, "to_hedge", lambda *args: True)
    first, later = lanes_of(held=True)
    request = TTSRequest(text="Hi there.", voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    consumer = asyncio.ensure_future(
        _count_chunks(rendered_chunks(plan, request, first, later, first_window=10, due_later_s=1.0))
    )
    call = await later.synthesizer.next_call()
    for _ in range(20):  # render_hedged would have asked the first lane by now
        await asyncio.sleep(0)
    assert first.synthesizer.started == 0
    call.release()
    await serve_until_done(later.synthesizer, consumer)
    assert await consumer == 2 and first.synthesizer.started == 0  # its first window, then its rest


async def test_a_first_window_grows_where_the_first_lane_decodes_too_slowly_for_the_fewest_frames(planner):
    first, later = lanes_of(held=True)
    first.pace.took(2.0, 100)  # 20 ms a frame: slower than the fewest frames' audio could cover
    request = TTSRequest(text=ONE_LONG_SENTENCE, voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    consumer = asyncio.ensure_future(_count_chunks(rendered_chunks(plan, request, first, later, first_window=10)))
    window = await first.synthesizer.next_call()
    [(start, end)] = [(job.frames_from, job.frames_to) for job in window.jobs]
    assert start == 0 and end is not None and end > 10
    window.release()
    await eventually(lambda: first.pace.seconds_per_frame < 0.02)  # the fake's call, at once, pulls the pace down
    consumer.cancel()


async def test_a_sentence_shorter_than_the_first_window_is_asked_for_once(planner):
    first, later = lanes_of()
    request = TTSRequest(text="Hi.", voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    assert await _count_chunks(rendered_chunks(plan, request, first, later, first_window=1_000)) == 1
    assert first.synthesizer.started + later.synthesizer.started == 1


async def _count_chunks(rendered) -> int:
    return len([chunk async for chunk, _ in rendered])


async def test_two_requests_starting_together_open_in_different_lanes(planner):
    first, later = lanes_of(held=True)
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
        async for _ in rendered_chunks(plan, request, first, later):
            return

    both = asyncio.gather(*(opening(plan) for plan in plans))
    held = [await first.synthesizer.next_call(), await later.synthesizer.next_call()]
    assert openings == [first, later]  # the second opened in the idle later lane, not behind the first
    for call in held:
        call.release()
    await both


def speech(tokens: int) -> Chunk:
    return Chunk(words=(), token_ids=tuple(range(tokens)), word_spans=())


def audio_of(tokens: int) -> ChunkAudio:
    return FakeSynthesizer._silence(
        ChunkJob(token_ids=list(range(tokens)), voice="af_heart", speed=1.0)
    )  # (tokens + 2) x 0.05 s


def test_a_listeners_audio_runs_out_when_what_was_sent_has_played_from_when_it_arrived():
    playback = Playback(runs_out_at=10.0)  # a request that arrived at 10.0
    playback.heard(speech(20), audio_of(20), at=10.5)  # 1.1 s of audio, sent at 10.5: plays from then
    assert playback.runs_out_at == pytest.approx(11.6)
    playback.heard(speech(38), audio_of(38), at=11.0)  # arrives while the first plays: 2.0 s more
    assert playback.runs_out_at == pytest.approx(13.6)
    playback.heard(speech(18), audio_of(18), at=20.0)  # arrives after a gap: plays from then
    assert playback.runs_out_at == pytest.approx(21.0)
    # a chunk not rendered yet adds its tokens at the pace heard (3.1 s over 62 + 38 + 18... tokens)
    pace = (1.1 + 2.0 + 1.0) / (20 + 38 + 18)
    assert playback.expected_s(speech(40)) == pytest.approx(40 * pace)
    assert playback.expected_s(Chunk(words=(), token_ids=(), word_spans=(), pause_s=0.7)) == 0.7
    assert Playback(runs_out_at=0.0).expected_s(speech(40)) == 0.0  # nothing heard: no pace to go by


def test_a_chunk_is_due_when_its_listeners_audio_runs_out_or_when_its_answer_was_projected_finished():
    fresh = Playback(runs_out_at=10.0)
    assert due_at(fresh, None, answer_by=None, opening=True) == 10.0  # a first chunk is due as it arrives
    assert due_at(fresh, None, answer_by=300.0, opening=True) == 10.0  # first audio soon, for answers too
    playing = Playback(runs_out_at=10.0)
    playing.heard(speech(20), audio_of(20), at=10.0)
    assert due_at(playing, None, answer_by=None, opening=False) == pytest.approx(11.1)
    # asked for while the chunk before it renders: due once that one's audio has played too
    assert due_at(playing, speech(40), answer_by=None, opening=False) == pytest.approx(11.1 + 40 * 1.1 / 20)
    assert due_at(playing, speech(40), answer_by=300.0, opening=False) == 300.0


#: a whole answer of two chunks (48 and 11 tokens)
ANSWER = "The quick brown fox jumps over the lazy dog. It barks."
#: a stream of four chunks: 21 tokens (1.15 s of the fake's audio), then three of 184 (9.3 s each)
STREAM = (
    "First sentence here. "
    + (
        "Then many more words follow in a much longer sentence, and so on and on, until this one sentence is long "
        "enough to fill more than half of a chunk all by itself without any help. "
    )
    * 3
)


async def test_an_answers_later_chunk_goes_before_a_streams_chunks_its_listener_does_not_need_yet(planner):
    """A stream plays on the later lane when a whole answer arrives. The answer's second chunk goes
    before every chunk of the stream due after it (the stream's audio lasts longer), and after
    every one due before it: a stream's chunk is never held back past its listener's need."""
    for answer_by, expected in (
        (3.0, ["answer", "stream", "stream"]),  # due before the stream's third chunk
        (15.0, ["stream", "answer", "stream"]),  # the stream's third chunk is due at 11.2 s: it goes first
        (100.0, ["stream", "stream", "answer"]),  # an answer due late waits for the stream's chunks due first
    ):
        assert await _later_lane_order(planner, answer_by) == expected, answer_by


async def _later_lane_order(planner, answer_by: float) -> list[str]:
    first, later, clock, stream, second = await _stream_playing(planner)
    owner = {tuple(chunk.token_ids): "answer" for chunk in planner.plan(ANSWER, "af_heart", 1.0)}
    owner |= {tuple(chunk.token_ids): "stream" for chunk in planner.plan(STREAM, "af_heart", 1.0)}
    answer = _spoken_at(planner, ANSWER, first, later, clock, answer_by)
    (await first.synthesizer.next_call()).release()  # the answer's first chunk, in the idle first lane
    await eventually(lambda: later.scheduler.waiting == 2)  # and its second, due at answer_by
    second.release()
    order = []
    for left in (2, 1, 0):  # the stream's fourth chunk is asked for once its second is heard
        call = await later.synthesizer.next_call()
        await eventually(lambda left=left: later.scheduler.waiting == left)
        order.append(owner[tuple(call.jobs[0].token_ids)])
        call.release()
    await asyncio.wait_for(asyncio.gather(stream, answer), WAIT_S)
    return order


async def test_a_short_answer_due_at_once_is_rendered_whole_in_the_first_lane_beside_a_stream(planner):
    """Nothing ahead of it, a two-sentence answer is due within INTERACTIVE_ANSWER_S: its caller waits for
    its last chunk as for a first one, so that one does not wait for a stream's chunk in the later
    lane (seconds on CPU) either."""
    first, later, clock, stream, second = await _stream_playing(planner)
    answer = _spoken_at(planner, ANSWER, first, later, clock, answer_by=clock.now + INTERACTIVE_ANSWER_S)
    for _ in range(2):
        (await first.synthesizer.next_call()).release()
    assert await asyncio.wait_for(answer, WAIT_S) == 2  # with the stream's chunk still in the model
    assert not second.outcome.done() and first.synthesizer.started == 3
    second.release()
    for _ in range(2):  # the stream's third and fourth chunks
        (await later.synthesizer.next_call()).release()
    assert await asyncio.wait_for(stream, WAIT_S) == 4


async def _stream_playing(planner) -> tuple[Lane, Lane, Clock, asyncio.Future, HeldCall]:
    """A stream of STREAM at 0.0 whose first chunk (1.15 s of audio) has been heard, its second in
    the later lane's model (due at 1.15 s), its third waiting there (due at 1.15 + 184 tokens at the
    pace heard: 11.2 s); the clock at 0.5 s. Also the lanes, the clock, the stream's task and its
    second chunk's call."""
    first, later = lanes_of(held=True)
    clock = Clock()
    assert [len(c.token_ids) for c in planner.chunks(STREAM, "a")] == [21, 184, 184, 184]
    assert [len(c.token_ids) for c in planner.chunks(ANSWER, "a")] == [48, 11]
    stream = _spoken_at(planner, STREAM, first, later, clock)
    (await first.synthesizer.next_call()).release()
    second = await later.synthesizer.next_call()
    await eventually(lambda: later.scheduler.waiting == 1)
    clock.now = 0.5
    return first, later, clock, stream, second


def _spoken_at(planner, text: str, first: Lane, later: Lane, clock: Clock, answer_by: float | None = None):
    request = TTSRequest(text=text, voice="af_heart")
    plan = ChunkPlan(planner.chunks(text, "a"))
    return asyncio.ensure_future(_count_chunks(rendered_chunks(plan, request, first, later, answer_by, clock=clock)))


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
        return asyncio.ensure_future(_count_chunks(rendered_chunks(plan, request, lane, lane, answer_by)))

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


def test_a_chunks_need_is_its_frames_at_the_lanes_pace():
    first, _ = lanes_of()
    assert needs_s(first, speech(40), 1.0) is None  # nothing measured yet
    first.pace.took(1.0, 100)  # 10 ms a frame
    assert needs_s(first, speech(40), 1.0) == pytest.approx(1.008)  # (40 + 2) tokens x 2.4 frames x 10 ms
    assert needs_s(first, speech(40), 2.0) == pytest.approx(0.504)


async def test_a_chunk_due_while_the_later_lane_starves_is_asked_of_the_first_lane_too():
    """Starves: the call inside it has taken LATER_LANE_MARGIN times what the first lane's pace
    says (a few ms here); due: the first lane would have to start it now."""
    first = Lane(FakeSynthesizer(), FairScheduler(1))
    later = Lane(FakeSynthesizer(held=True), FairScheduler(1))
    first.pace.took(0.001, 100)
    request = TTSRequest(text="Hi.", voice="af_heart")
    audio = await asyncio.wait_for(render_hedged(first, later, speech(40), request, 0.0, Clock()), WAIT_S)
    assert audio.frames == [2] * 42 and first.synthesizer.rendered == 1
    starved = await later.synthesizer.next_call()  # still inside the later lane's model
    assert not later.scheduler.idle and later.in_model  # whose slot it holds until the model is done
    starved.release()
    await eventually(lambda: later.scheduler.idle and not later.in_model)


def test_a_chunk_is_left_to_the_later_lane_while_it_is_only_busy_or_the_chunk_not_due():
    first, later = lanes_of()
    chunk = speech(40)  # 100.8 frames about; at the first lane's 10 ms a frame, 1.008 s
    assert not to_hedge(first, later, chunk, 1.0, due_in_s=-1.0, now=100.0)  # no pace known: no guess
    first.pace.took(1.0, 100)
    later.in_model[1] = (97.0, 100.0)  # a call of 100 frames inside it since 97.0: 3 s against 1 s
    assert to_hedge(first, later, chunk, 1.0, due_in_s=-1.0, now=100.1)  # starved, and overdue
    assert to_hedge(first, later, chunk, 1.0, due_in_s=3.0, now=100.1)  # due within 3 x 1.008 s
    assert not to_hedge(first, later, chunk, 1.0, due_in_s=3.1, now=100.1)  # not due yet
    assert not to_hedge(first, later, chunk, 1.0, due_in_s=-1.0, now=99.9)  # only busy: within 3 x 1 s
    later.in_model.clear()
    assert not to_hedge(first, later, chunk, 1.0, due_in_s=-1.0, now=100.1)  # nothing inside: it waits its turn


async def test_a_voice_agents_next_sentence_goes_to_the_later_lane(planner):
    """A context's next run continues audio its listener is still hearing: its chunks go where a
    stream's later chunks go, leaving the first lane to newcomers' first audio."""
    first, later = lanes_of(held=True)
    request = TTSRequest(text="The quick brown fox jumps over the lazy dog.", voice="af_heart")
    plan = ChunkPlan(planner.chunks(request.text, "a"))
    run = asyncio.ensure_future(
        _count_chunks(rendered_chunks(plan, request, first, later, began=0.0, sent_s=30.0, clock=Clock()))
    )
    (await later.synthesizer.next_call()).release()
    assert await asyncio.wait_for(run, WAIT_S) == 1
    assert first.synthesizer.started == 0


async def test_a_chunk_refused_mid_answer_is_asked_for_again_and_the_answer_goes_on(planner, monkeypatch):
    """An overloaded synthesizer refuses a stream's second chunk once: its listener hears a pause,
    not the end of the answer. Refused every time, after the waits, the answer fails."""
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(lanes, "wait_before_retry", no_wait)
    request = TTSRequest(text=LONG, voice="af_heart")
    count = len(list(planner.chunks(LONG, "a")))
    first, later = lanes_of()
    later.synthesizer.failures = {1: NotReady("the synthesizer is overloaded", 5.0)}
    plan = ChunkPlan(planner.chunks(LONG, "a"))
    assert await asyncio.wait_for(_count_chunks(rendered_chunks(plan, request, first, later)), WAIT_S) == count
    assert waits == [lanes.REFUSED_CHUNK_WAITS_S[0]] and later.synthesizer.started == count  # one more call
    waits.clear()
    first, later = lanes_of()
    later.synthesizer.failure = NotReady("the synthesizer is overloaded", 5.0)
    plan = ChunkPlan(planner.chunks(LONG, "a"))
    with pytest.raises(NotReady):
        await asyncio.wait_for(_count_chunks(rendered_chunks(plan, request, first, later)), WAIT_S)
    assert waits == list(lanes.REFUSED_CHUNK_WAITS_S)


async def test_a_voice_agents_chunk_is_not_asked_for_more_than_ahead_s_before_its_listener_needs_it(
    planner, monkeypatch
):
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(synthesize, "wait_to_ask", no_wait)
    request = TTSRequest(text="The quick brown fox jumps over the lazy dog.", voice="af_heart")
    for sent_s, expected in ((45.0, [15.0]), (20.0, [])):  # the audio before it plays till 45 s, 20 s
        waits.clear()
        first, later = lanes_of()
        plan = ChunkPlan(planner.chunks(request.text, "a"))
        run = rendered_chunks(plan, request, first, later, began=0.0, sent_s=sent_s, clock=Clock(), ahead_s=30.0)
        assert await asyncio.wait_for(_count_chunks(run), WAIT_S) == 1
        assert waits == expected, sent_s
