"""A synthesizer fault at the second chunk, seen from the client: never a clean end.

Serves the real HTTP face (serving.app, the real G2P and voices) on a local port with uvicorn, in
front of a stand-in synthesizer that renders silence and fails its second chunk call, then asks
with curl for NDJSON, OpenAI's SSE, and streamed wav and mp3, and prints what each client got
and the failure count on the metrics. Goals: NDJSON ends with an `error` event, SSE with an
`error` event, curl reports the wav and mp3 bodies incomplete (exit 18), the count rises by 4.

    .venv/bin/python -m load_tests.faults

No model is loaded: the fault is what is tested, not speech. Stops by itself.
"""

import asyncio
import json
import socket
import subprocess
import sys

import uvicorn
from prometheus_client import REGISTRY

from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.settings import ModelSettings, TextSettings
from engine.speech import SpeechPlanner
from engine.synthesis import ChunkAudio, ChunkJob
from engine.timing import SAMPLES_PER_FRAME
from engine.voices import VoiceLibrary
from load_tests.goals import Goals
from schemas import SynthesizerStatus
from serving.app import create_app
from serving.core.admission import Admission, AdmissionLimits
from serving.core.config import ServingSettings
from serving.core.health import HealthMonitor
from serving.core.lanes import Lane
from serving.core.lifecycle import TTSServer
from serving.core.schedule import FairScheduler

TEXT = "First sentence here. " + "Then many more words follow in a longer second sentence, and so on. " * 6


class FailsAtTheSecondChunk:
    """Silence for every chunk call but each request's second, which raises."""

    def __init__(self) -> None:
        self.calls = 0

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        self.calls += 1
        if self.calls % 2 == 0:
            raise RuntimeError("injected fault: the synthesizer failed this chunk")
        frames = [2] * (len(jobs[0].token_ids) + 2)
        return [ChunkAudio(pcm16=bytes(2 * SAMPLES_PER_FRAME * sum(frames)), frames=frames)]

    async def status(self) -> SynthesizerStatus:
        return SynthesizerStatus(device="none", weights_source="none (fault injection)")


def failures() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "tts_streams_failed"
        for sample in metric.samples
        if sample.name == "tts_streams_failed_total"
    )


def curl(base: str, path: str, body: dict) -> tuple[int, bytes, str]:
    done = subprocess.run(
        ["curl", "-sS", "-X", "POST", f"{base}{path}", "-H", "content-type: application/json", "-d", json.dumps(body)],
        capture_output=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr.decode().strip()


async def main() -> int:
    planner = SpeechPlanner(
        VoiceLibrary(ModelSettings().voices_dir), Phonemizers(), kokoro_config()["vocab"], TextSettings().max_text_chars
    )
    synthesizer = FailsAtTheSecondChunk()
    limits = AdmissionLimits(4, 5_000, 300.0, 8, None, 45.0)
    app = create_app(ServingSettings())
    app.state.server = TTSServer(
        planner,
        [Lane(synthesizer, FairScheduler(1))],
        Admission(limits),
        HealthMonitor([synthesizer], 2.0, 10.0),
        ServingSettings().max_body_bytes,
    )
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    serving = asyncio.ensure_future(server.serve(sockets=[listening]))
    while not server.started:
        await asyncio.sleep(0.05)
    goals = Goals()
    before = failures()
    try:
        code, out, _ = await asyncio.to_thread(curl, base, "/tts/stream", {"text": TEXT, "voice": "af_heart"})
        last = json.loads(out.splitlines()[-1])
        print(f"NDJSON: curl exit {code}; last line: {json.dumps(last)[:160]}")
        goals.check(last["type"] == "error", "NDJSON ends with an error event")
        sse = {"model": "tts-1", "input": TEXT, "voice": "alloy", "stream_format": "sse"}
        code, out, _ = await asyncio.to_thread(curl, base, "/v1/audio/speech", sse)
        last_event = out.decode().strip().split("\n\n")[-1]
        print(f"SSE: curl exit {code}; last event: {last_event[:160]}")
        goals.check(last_event.startswith("event: error"), "SSE ends with an error event")
        for audio_format in ("wav", "mp3"):
            body = {"text": TEXT, "voice": "af_heart", "format": audio_format, "include_timestamps": False}
            code, out, error = await asyncio.to_thread(curl, base, "/tts/", body)
            print(f"{audio_format}: curl exit {code} after {len(out):,} bytes: {error}")
            goals.check(code == 18, f"streamed {audio_format} ends incomplete (curl exit 18)")
        counted = failures() - before
        print(f"tts_streams_failed_total rose by {counted:.0f}")
        goals.check(counted == 4, "the metrics count each failure")
    finally:
        server.should_exit = True
        await serving
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
