"""Voice-agent clients, unchanged, against the live server's Cartesia routes.

pipecat's CartesiaTTSService on /tts/websocket: a turn sent sentence by sentence and one sent
token by token (audio and word timings arrive, the words in order), telephony's 16 kHz, and an
interruption, which stops the audio and the server's work. Its pipeline has no transport: the
service's frames go to a collector, as they would go to the output transport of an agent.
LiveKit's cartesia.TTS: a streamed turn with its timed words, a turn after an interruption on
its pooled socket, and its one-shot `synthesize` on /tts/bytes."""

import asyncio
import re

import aiohttp
import pytest
import requests

pytest.importorskip("pipecat")
pytest.importorskip("livekit.plugins.cartesia")

from livekit.agents.types import USERDATA_TIMED_TRANSCRIPT  # noqa: E402
from livekit.plugins import cartesia  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.services.cartesia.tts import CartesiaTTSService  # noqa: E402
from pipecat.services.tts_service import TextAggregationMode  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from tests.live import llm_tokens  # noqa: E402

pytestmark = pytest.mark.server

TURN = "Hello there, this is Kokoro. How are you today? I am fine, thank you."
#: an answer long enough for many chunks, so that an interruption has work left to stop
LONG_TURN = " ".join(["This is one sentence of a long answer that the user is about to interrupt."] * 10)
#: a bound on waiting for what must come, so that a defect fails rather than hangs
WAIT_S = 120.0


class Collector(FrameProcessor):
    """What reaches an agent's output: the audio, the words with their times, errors, the end."""

    def __init__(self) -> None:
        super().__init__()
        self.audio: list[TTSAudioRawFrame] = []
        self.words: list[TTSTextFrame] = []
        self.errors: list[ErrorFrame] = []
        self.stopped = asyncio.Event()
        self.first_audio = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.audio.append(frame)
            self.first_audio.set()
        elif isinstance(frame, TTSTextFrame):
            self.words.append(frame)
        elif isinstance(frame, ErrorFrame):
            self.errors.append(frame)
        elif isinstance(frame, TTSStoppedFrame):
            self.stopped.set()
        await self.push_frame(frame, direction)

    def seconds(self) -> float:
        return sum(len(frame.audio) / 2 / frame.sample_rate for frame in self.audio)


async def speak_turn(server: str, pieces: list[str], mode: TextAggregationMode, rate: int, interrupt: bool = False):
    """One agent turn through pipecat's Cartesia service pointed at `server`; the collector."""
    tts = CartesiaTTSService(
        api_key="unused",
        url=server.replace("http://", "ws://") + "/tts/websocket",
        sample_rate=rate,
        text_aggregation_mode=mode,
        settings=CartesiaTTSService.Settings(voice="af_heart", model="kokoro"),
    )
    return await run_turn(tts, pieces, rate, interrupt)


async def run_turn(tts: CartesiaTTSService, pieces: list[str], rate: int, interrupt: bool = False) -> Collector:
    """One agent turn through a pipecat TTS service, in a pipeline with no transport."""
    collector = Collector()
    worker = PipelineWorker(
        Pipeline([tts, collector]),
        params=PipelineParams(audio_out_sample_rate=rate),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await worker.queue_frame(LLMFullResponseStartFrame())
    for piece in pieces:
        await worker.queue_frame(LLMTextFrame(piece))
    try:
        if interrupt:
            await asyncio.wait_for(collector.first_audio.wait(), WAIT_S)
            await worker.queue_frame(InterruptionFrame())
        else:
            await worker.queue_frame(LLMFullResponseEndFrame())
            await asyncio.wait_for(collector.stopped.wait(), WAIT_S)
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, WAIT_S)
    except BaseException:
        # a turn that failed is torn down through pipecat's own cancel: asyncio.run's cancelling
        # of the runner's task alone waits on pipecat's tasks for ever
        await asyncio.wait_for(worker.cancel(reason="the test failed"), WAIT_S)
        raise
    return collector


def check_turn(collector: Collector, text: str, rate: int) -> None:
    assert not collector.errors
    assert collector.audio and {frame.sample_rate for frame in collector.audio} == {rate}
    assert [frame.text for frame in collector.words] == text.split()
    times = [frame.pts for frame in collector.words]
    assert times == sorted(times)
    assert (times[-1] - times[0]) / 1e9 < collector.seconds()


@pytest.mark.parametrize(
    ("mode", "pieces"),
    [(TextAggregationMode.SENTENCE, llm_tokens(TURN)), (TextAggregationMode.TOKEN, llm_tokens(TURN))],
    ids=["sentence by sentence", "token by token"],
)
def test_a_turn_is_spoken_with_its_words_timed_in_order(server, mode, pieces):
    collector = asyncio.run(speak_turn(server, pieces, mode, 24000))
    check_turn(collector, TURN, 24000)


def test_telephony_audio_at_16_khz_has_the_length_of_24_khz(server):
    wide = asyncio.run(speak_turn(server, llm_tokens(TURN), TextAggregationMode.SENTENCE, 24000))
    narrow = asyncio.run(speak_turn(server, llm_tokens(TURN), TextAggregationMode.SENTENCE, 16000))
    check_turn(narrow, TURN, 16000)
    assert narrow.seconds() == pytest.approx(wide.seconds(), abs=0.01)


def metric(server: str, name: str) -> float:
    """A metric of the server's, summed over its labels and processes."""
    lines = requests.get(f"{server}/metrics", timeout=10).text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if re.match(rf"{name}[{{ ]", line))


def rendered_chunks(server: str) -> float:
    return metric(server, "tts_chunks_rendered_total")


def in_flight(server: str) -> float:
    return metric(server, "tts_requests_in_flight")


def test_an_interruption_stops_the_audio_and_the_work_within_one_chunk(server):
    before = rendered_chunks(server)
    collector = asyncio.run(speak_turn(server, llm_tokens(LONG_TURN), TextAggregationMode.TOKEN, 24000, interrupt=True))
    asyncio.run(_until(lambda: in_flight(server) == 0))
    spoken = rendered_chunks(server) - before
    assert not collector.errors
    # the first chunk was heard; at most the one inside the model, and the one queued behind it, followed
    assert 1 <= spoken <= 3
    assert collector.seconds() < 15  # the whole answer is far longer


async def _until(condition) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.1)


async def livekit_turns(server: str, rate: int) -> dict[str, tuple[int, list[tuple[str, float, float]]]]:
    """LiveKit's Cartesia plugin as an agent uses it: each turn's audio bytes and timed words."""

    async def heard(stream) -> tuple[int, list[tuple[str, float, float]]]:
        audio, words = 0, []
        async for event in stream:
            audio += len(event.frame.data.tobytes())
            timed = event.frame.userdata.get(USERDATA_TIMED_TRANSCRIPT, [])
            words += [(str(w), w.start_time, w.end_time) for w in timed]
        return audio, words

    turns = {}
    async with aiohttp.ClientSession() as session:
        tts = cartesia.TTS(api_key="unused", base_url=server, voice="af_heart", sample_rate=rate, http_session=session)
        stream = tts.stream()
        for token in llm_tokens(TURN):
            stream.push_text(token)
        stream.end_input()
        turns["streamed"] = await heard(stream)
        interrupted = tts.stream()
        interrupted.push_text(LONG_TURN)
        async for _ in interrupted:
            break
        await interrupted.aclose()
        after = tts.stream()
        after.push_text("After the interruption.")
        after.end_input()
        turns["after"] = await heard(after)
        turns["synthesized"] = await heard(tts.synthesize("A whole sentence at once."))
        await tts.aclose()
    return turns


def test_livekit_streams_turns_with_timed_words_and_synthesizes_on_the_bytes_route(server):
    turns = asyncio.run(livekit_turns(server, 16000))
    audio, words = turns["streamed"]
    assert [w.strip() for w, _, _ in words] == TURN.split()
    assert all(start <= end for _, start, end in words) and [s for _, s, _ in words] == sorted(s for _, s, _ in words)
    assert words[-1][2] <= audio / 2 / 16000 + 0.01
    assert [w.strip() for w, _, _ in turns["after"][1]] == ["After", "the", "interruption."]
    assert turns["synthesized"][0] > 16000  # over half a second of 16-bit audio at 16 kHz
