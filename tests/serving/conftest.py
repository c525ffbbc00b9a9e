"""The HTTP face in-process: serving.app with the real planner (G2P, voices) and a fake synthesizer.

The fake renders silence of the right length, 2 frames per token (or the window of those frames
a job asks for): it tests the request's life
(admission, cancellation, errors, encoding, timing arithmetic), never speech. Held, each chunk
call waits until the test releases it, so that order and concurrency are asserted on events,
never on how long anything took.
"""

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.settings import ModelSettings, TextSettings
from engine.speech import SpeechPlanner
from engine.synthesis import ChunkAudio, ChunkJob
from engine.timing import SAMPLES_PER_FRAME
from engine.voices import VoiceLibrary
from schemas import SynthesizerStatus
from serving.app import create_app
from serving.core.admission import Admission, AdmissionLimits
from serving.core.config import ServingSettings
from serving.core.health import HealthMonitor
from serving.core.lanes import Lane
from serving.core.lifecycle import TTSServer
from serving.core.schedule import FairScheduler

FRAMES_PER_TOKEN = 2


@dataclass
class HeldCall:
    """A chunk call the fake holds until the test lets it finish."""

    jobs: list[ChunkJob]
    outcome: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def release(self) -> None:
        self.outcome.set_result(None)


class FakeSynthesizer:
    """A synthesizer service without a model. `started` counts chunks that reached it; `failures`
    maps a chunk's number (1 for the first to reach it) to what that call raises."""

    def __init__(self, held: bool = False):
        self.held = held
        self.started = 0
        self.rendered = 0
        self.failure: BaseException | None = None
        self.failures: dict[int, BaseException] = {}
        self.status_failure: BaseException | None = None
        self._calls: asyncio.Queue[HeldCall] = asyncio.Queue()

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        self.started += len(jobs)
        failure = self.failures.pop(self.started, None) or self.failure
        if self.held:
            call = HeldCall(jobs)
            self._calls.put_nowait(call)
            await call.outcome
        else:
            await asyncio.sleep(0)
        if failure is not None:
            raise failure
        self.rendered += len(jobs)
        return [self._silence(job) for job in jobs]

    async def next_call(self) -> HeldCall:
        """The next chunk call to reach the held fake (waits for one)."""
        return await asyncio.wait_for(self._calls.get(), WAIT_S)

    def waiting_calls(self) -> int:
        return self._calls.qsize()

    async def status(self) -> SynthesizerStatus:
        if self.status_failure is not None:
            raise self.status_failure
        return SynthesizerStatus(device="fake", weights_source="none (fake synthesizer)", decodes_windows=True)

    @staticmethod
    def _silence(job: ChunkJob) -> ChunkAudio:
        """Silence for the frames the job asks for, of a chunk 2 frames a token long."""
        frames = [FRAMES_PER_TOKEN] * (len(job.token_ids) + 2)
        start = min(job.frames_from, sum(frames))
        end = sum(frames) if job.frames_to is None else max(start, min(job.frames_to, sum(frames)))
        return ChunkAudio(pcm16=bytes(2 * SAMPLES_PER_FRAME * (end - start)), frames=frames, frames_from=start)


#: a bound on waiting for something that must happen, so that a defect fails the test rather
#: than hanging it; never a claim about how long anything takes
WAIT_S = 30.0


async def eventually(condition: Callable[[], bool]) -> None:
    """Returns once `condition` holds (work in worker threads gets there in its own time)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.005)


async def serve_until_done(fake: FakeSynthesizer, *work: asyncio.Future, seen: list | None = None) -> None:
    """Releases the held fake's calls as they come until every one of `work` is done; each call's
    jobs are added to `seen`, in the order released."""
    while not all(task.done() for task in work):
        try:
            call = await asyncio.wait_for(fake._calls.get(), 0.05)
        except TimeoutError:
            continue
        if seen is not None:
            seen.append(call.jobs)
        call.release()


class Clock:
    """Time that passes only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LIMITS = AdmissionLimits(
    max_requests=4, max_chars=5_000, deadline_s=240.0, max_queued=2, max_wait_s=None, initial_rate=60.0
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def planner() -> SpeechPlanner:
    planner = SpeechPlanner(
        VoiceLibrary(ModelSettings().voices_dir), Phonemizers(), kokoro_config()["vocab"], TextSettings().max_text_chars
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

    def make(held: bool = False, settings: ServingSettings | None = None, **limits: object) -> Served:
        """`limits` replace fields of LIMITS for this server's admission."""
        settings = settings or ServingSettings()
        fake = FakeSynthesizer(held)
        app = create_app(settings)
        server = TTSServer(
            planner,
            [Lane(fake, FairScheduler(1))],
            Admission(dataclasses.replace(LIMITS, **limits)),
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


class SocketClient:
    """A WebSocket client of the app in-process (httpx's ASGI transport speaks no WebSocket): the
    ASGI messages go through two queues, and every wait is bounded by WAIT_S."""

    def __init__(
        self,
        app: FastAPI,
        path: str,
        headers: dict[str, str] | None = None,
        query: str = "",
        client: str = "127.0.0.1",
        denial: bool = False,
    ):
        """`denial`: the server can answer the handshake as HTTP (uvicorn's denial response)."""
        self.scope = {
            "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("tts.test", 80), "client": (client, 5000),
            "subprotocols": [], "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "extensions": {"websocket.http.response": {}} if denial else {},
        }  # fmt: skip
        self.denied: tuple[int, bytes] | None = None  # the HTTP answer to a handshake the server refused
        self.app = app
        self._to_app: asyncio.Queue[dict] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict] = asyncio.Queue()
        self.closed: dict | None = None  # the close message, if the app closed the socket
        self.gone = False  # set: the app's next send fails, as it does once the client has left

    async def __aenter__(self) -> "SocketClient":
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._app_sends))
        self._to_app.put_nowait({"type": "websocket.connect"})
        opened = await asyncio.wait_for(self._from_app.get(), WAIT_S)
        if opened["type"] == "websocket.close":
            self.closed = opened
        elif opened["type"] == "websocket.http.response.start":
            body = await asyncio.wait_for(self._from_app.get(), WAIT_S)
            self.denied = (opened["status"], body["body"])
        else:
            assert opened["type"] == "websocket.accept", opened
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.leave()
        await asyncio.wait_for(self._task, WAIT_S)

    def leave(self, code: int = 1000) -> None:
        """The client's side closes (`code` 1009: the server's WebSocket layer closed it for a
        message too big to read, which the app is told the same way)."""
        self._to_app.put_nowait({"type": "websocket.disconnect", "code": code})

    async def _app_sends(self, message: dict) -> None:
        if self.gone:
            raise OSError("the client has left")  # what uvicorn raises (ClientDisconnected)
        await self._from_app.put(message)

    async def send(self, message: dict) -> None:
        self._to_app.put_nowait({"type": "websocket.receive", "text": json.dumps(message)})

    async def send_bytes(self, data: bytes) -> None:
        self._to_app.put_nowait({"type": "websocket.receive", "bytes": data})

    async def until_closed(self) -> tuple[list[dict], dict]:
        """The messages the app sends up to its closing the socket, and its close message."""
        messages = []
        while True:
            sent = await asyncio.wait_for(self._from_app.get(), WAIT_S)
            if sent["type"] == "websocket.close":
                return messages, sent
            messages.append(json.loads(sent["text"]))

    async def send_text(self, text: str) -> None:
        self._to_app.put_nowait({"type": "websocket.receive", "text": text})

    async def receive(self) -> dict:
        sent = await asyncio.wait_for(self._from_app.get(), WAIT_S)
        assert sent["type"] == "websocket.send", sent
        return json.loads(sent["text"])

    def received_now(self) -> list[dict]:
        """The messages sent so far and not yet read, without waiting."""
        messages = []
        while not self._from_app.empty():
            messages.append(json.loads(self._from_app.get_nowait()["text"]))
        return messages

    async def until_end(self, context_id: str, into: dict[str, list[dict]] | None = None) -> list[dict]:
        """Messages up to and including `context_id`'s done or error; other contexts' messages
        go into `into`, by context."""
        own: list[dict] = []
        while True:
            message = await self.receive()
            if message["context_id"] != context_id:
                assert into is not None, message
                into.setdefault(message["context_id"], []).append(message)
                continue
            own.append(message)
            if message["type"] in ("done", "error"):
                return own
