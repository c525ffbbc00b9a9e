"""The HTTP face in-process: serving.app with the real planner (G2P, voices) and a fake synthesizer.

The fake renders silence of the right length, 2 frames per token, after a set delay: it tests the
request's life (admission, cancellation, errors, encoding, timing arithmetic), never speech.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.settings import Settings
from engine.speech import SpeechPlanner
from engine.timing import SAMPLES_PER_FRAME
from engine.voices import VoiceLibrary
from schemas import ChunkAudio, ChunkJob, SynthesizerStatus
from serving.admission import Admission
from serving.app import create_app
from serving.config import ServingSettings
from serving.health import HealthMonitor
from serving.lifecycle import TTSServer
from serving.schedule import FairScheduler
from serving.synthesize import Lane

FRAMES_PER_TOKEN = 2


class FakeSynthesizer:
    """A synthesizer service without a model. `started` counts chunks that reached it."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.started = 0
        self.rendered = 0
        self.failure: BaseException | None = None
        self.status_failure: BaseException | None = None

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        self.started += len(jobs)
        await asyncio.sleep(self.delay_s)
        if self.failure is not None:
            raise self.failure
        self.rendered += len(jobs)
        return [self._silence(len(job.token_ids)) for job in jobs]

    async def status(self) -> SynthesizerStatus:
        if self.status_failure is not None:
            raise self.status_failure
        return SynthesizerStatus(device="fake", weights_source="none (fake synthesizer)")

    @staticmethod
    def _silence(tokens: int) -> ChunkAudio:
        frames = [FRAMES_PER_TOKEN] * (tokens + 2)
        return ChunkAudio(pcm16=bytes(2 * SAMPLES_PER_FRAME * sum(frames)), frames=frames)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def planner() -> SpeechPlanner:
    settings = Settings()
    planner = SpeechPlanner(
        VoiceLibrary(settings.voices_dir), Phonemizers(), kokoro_config()["vocab"], settings.max_text_chars
    )
    list(planner.plan("Warming up.", "af_heart", 1.0))  # loads spaCy now, as the service does at start
    return planner


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient
    fake: FakeSynthesizer
    server: TTSServer


ServerFactory = Callable[..., Served]


@pytest.fixture
async def make_server(planner) -> AsyncIterator[ServerFactory]:
    """Builds the app around a fake synthesizer; settings and admission bounds are the test's."""
    clients: list[httpx.AsyncClient] = []

    def make(
        delay_s: float = 0.0,
        settings: ServingSettings | None = None,
        max_requests: int = 4,
        max_chars: int = 5_000,
        max_queued: int = 2,
        max_wait_s: float = 0.2,
    ):
        settings = settings or ServingSettings()
        fake = FakeSynthesizer(delay_s)
        app = create_app(settings)
        server = TTSServer(
            planner,
            [Lane(fake, FairScheduler(1))],
            Admission(max_requests, max_chars, max_queued, max_wait_s),
            HealthMonitor([fake], refresh_s=0.05, grace_s=0.5),
            settings.max_body_bytes,
        )
        app.state.server = server
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a fault is a 500, as served
        client = httpx.AsyncClient(transport=transport, base_url="http://tts.test", timeout=30)
        clients.append(client)
        return Served(app, client, fake, server)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_server) -> httpx.AsyncClient:
    return make_server().client
