"""BentoML services: the HTTP face of the Kokoro TTS API, and the batched synthesizer behind it.

KokoroTTS parses and validates requests, plans chunks (G2P) and streams encoded audio; the
Synthesizer, a separate process holding the model, renders chunk jobs from all requests in
adaptive batches. Neither does anything the engine does not already do.
"""

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import bentoml
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS, encode_whole, to_pcm16
from engine.errors import InvalidInput
from engine.languages import Phonemizers
from engine.model import choose_device, kokoro_config
from engine.scheduling import FairScheduler
from engine.settings import Settings
from engine.speech import SpeechPlanner, Timeline
from engine.synthesis import Rendered
from engine.text import Chunk
from engine.voices import VoiceLibrary
from schemas import (
    ChunkAudio,
    ChunkJob,
    ErrorResponse,
    HealthResponse,
    SynthesizerStatus,
    TTSRequest,
    TTSResponse,
    VoicesResponse,
    WordTimestamp,
)

if TYPE_CHECKING:
    from engine.tts import KokoroEngine

log = logging.getLogger("kokoro_tts")
SETTINGS = Settings.from_env()
#: chosen once at import, so that every process, and the batching declared below, agree on it
DEVICE = choose_device(SETTINGS.device)
MAX_BATCH_SIZE = SETTINGS.batch_size_for(DEVICE)
BULK_LANE = SETTINGS.bulk_lane_on(DEVICE)


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
VERSION = "0.1.0"
HEALTH_TIMEOUT_S = 2.0
WARMUP_TEXT = "Warming up."
#: BentoML model holding the weights (deploy/pack_weights.py saves it; bentofile.yaml packs it)
WEIGHTS_MODEL = "kokoro-82m"

REQUESTS = Counter("tts_requests_total", "TTS requests answered", ["format", "mode", "status"])
IN_FLIGHT = Gauge("tts_requests_in_flight", "TTS requests being synthesised now")
AUDIO_SECONDS = Counter("tts_audio_seconds_total", "Seconds of audio synthesised")
FIRST_AUDIO = Histogram("tts_time_to_first_audio_seconds", "From request to the first chunk's audio")
BATCH_SIZE = Histogram(
    "tts_synthesizer_batch_size", "Chunks per synthesizer batch", ["lane"], buckets=(1, 2, 4, 8, 16, 32, 64)
)


#: shared by both synthesizer services
SYNTHESIZER_CONFIG = {
    # One model per process: a second worker would double the memory and fight for the same
    # cores; concurrency comes from batching and the HTTP face's fair queues instead.
    "workers": 1,
    "traffic": {"timeout": 600},
    # BentoML's inter-service client recycles connections every 100 calls / 300 s and cuts calls
    # in flight (bentoml issues 5540, 5544): one TTS request makes many calls, so raise both.
    "runner_connection": {"max_requests": 1_000_000, "max_age": 86_400.0},
}


class SynthesizerLane:
    """Holds Kokoro-82M on the device chosen at start and renders chunk jobs.

    Two BentoML services, two processes, share this code. The Synthesizer renders each request's
    first chunk, the BulkSynthesizer every later chunk, at the lowest CPU priority. A chunk in
    flight cannot be paused, and on a CPU a long stream's chunk takes seconds: in one process a
    short request would wait for it, whatever the queue's order. As two processes the kernel
    hands the cores to the short request's chunk at once and lets the long one run on the rest.
    """

    #: added to the nice value of the thread that runs the model, and so of its OpenMP team
    niceness = 0
    holds_model = True

    def __init__(self) -> None:
        # Every torch call runs on this one thread, loading included. Each thread that runs torch
        # gets its own OpenMP team, and once a process holds more OpenMP threads than CPUs, libgomp
        # stops spin-waiting between parallel regions: renders from BentoML's pool of sync-API
        # threads measured 25% slower on 2 cores than the same renders on one thread.
        self.torch_thread = ThreadPoolExecutor(
            1, thread_name_prefix="torch", initializer=lower_cpu_priority, initargs=(self.niceness,)
        )
        self.engine = self.torch_thread.submit(self._load).result() if self.holds_model else None
        if self.engine is not None:
            log.info("%s ready: %s on %s", type(self).__name__, self.engine.source, self.engine.device)

    @staticmethod
    def _load() -> "KokoroEngine":
        from engine.tts import KokoroEngine

        settings = dataclasses.replace(SETTINGS, model_dir=SETTINGS.model_dir or packed_weights())
        engine = KokoroEngine.from_settings(settings)
        first = next(engine.planner.plan(WARMUP_TEXT, "af_heart", 1.0, "a"))
        engine.render(first.token_ids, "af_heart", 1.0)
        return engine

    # A batch size of 1 turns adaptive batching off (BentoML wants a batch size above 1): each call
    # then carries the one chunk its request sent.
    @bentoml.api(
        **(
            {"batchable": True, "batch_dim": 0, "max_batch_size": MAX_BATCH_SIZE,
             "max_latency_ms": SETTINGS.max_latency_ms}
            if MAX_BATCH_SIZE > 1
            else {}
        )
    )  # fmt: skip
    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        BATCH_SIZE.labels(type(self).__name__).observe(len(jobs))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.torch_thread, self._render, jobs)

    def _render(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        if self.engine is None:
            raise RuntimeError(f"{type(self).__name__} is off (KOKORO_BULK_LANE): it holds no model")
        rendered = self.engine.render_many([(job.token_ids, job.voice, job.speed) for job in jobs])
        return [ChunkAudio(pcm16=to_pcm16(r.audio), frames=r.frames.tolist()) for r in rendered]

    @bentoml.api
    async def status(self) -> SynthesizerStatus:
        if self.engine is None:
            return SynthesizerStatus(device="off", weights_source="none")
        return SynthesizerStatus(device=self.engine.device, weights_source=self.engine.source)


@bentoml.service(name="kokoro_synthesizer", resources={"gpu": 1}, **SYNTHESIZER_CONFIG)
class Synthesizer(SynthesizerLane):
    """Each request's first chunk: what decides how soon a caller hears anything."""


@bentoml.service(name="kokoro_bulk_synthesizer", **SYNTHESIZER_CONFIG)
class BulkSynthesizer(SynthesizerLane):
    """Every chunk after a request's first, at the lowest CPU priority (on CPU; off on CUDA, where
    a short request's chunk joins the next batched pass instead, and this process holds no model)."""

    niceness = 19
    holds_model = BULK_LANE


def lower_cpu_priority(niceness: int) -> None:
    """Lowers the CPU priority of the calling thread and of the threads it starts later (torch's
    OpenMP team). Where Linux groups processes by session (autogroup), nice values weigh only
    within a group, and BentoML starts each service in a session of its own: there the group's
    own nice value is what counts against the other services, so it is lowered too."""
    if niceness <= 0:
        return
    os.nice(niceness)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(niceness))


def packed_weights() -> Path | None:
    """The weights in BentoML's model store: a bento's own when serving a built bento, so that
    the image starts offline without converting anything (used when KOKORO_WEIGHTS=auto)."""
    try:
        return Path(bentoml.models.get(WEIGHTS_MODEL).path)
    except bentoml.exceptions.NotFound:
        return None


@dataclasses.dataclass(frozen=True)
class Lane:
    """A synthesizer service and the fair queue in front of it."""

    synthesizer: Any  # BentoML's client for a synthesizer service
    scheduler: FairScheduler


app = FastAPI(
    title="Kokoro TTS API",
    version=VERSION,
    description="Kokoro-82M text-to-speech: streamed audio and word timestamps",
)

TTS_RESPONSES = {
    200: {
        "description": "JSON with timestamps, or the streamed audio file",
        "content": {"application/json": {"schema": TTSResponse.model_json_schema()}, "audio/wav": {}},
    },
    400: {"model": ErrorResponse, "description": "Invalid input"},
}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse(ErrorResponse(error=message).model_dump(), status_code=status)


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return error(exc.status_code, str(exc.detail))


@app.exception_handler(Exception)
async def server_fault(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path)
    return error(500, "internal server error; the server log has the details")


@bentoml.service(name="kokoro_tts", traffic={"timeout": 600})
@bentoml.asgi_app(app, path="/")
class KokoroTTS:
    """The HTTP contract: POST /tts/, GET /tts/voices, GET /tts/health, GET /tts/."""

    synthesizer = bentoml.depends(Synthesizer)
    bulk_synthesizer = bentoml.depends(BulkSynthesizer)

    def __init__(self) -> None:
        self.voices = VoiceLibrary(SETTINGS.voices_dir)
        self.synthesizer_status: SynthesizerStatus | None = None
        slots = SETTINGS.slots_for(DEVICE)
        # first chunks in lanes[0]; later chunks in lanes[-1], the bulk lane where it is on
        self.lanes = [Lane(self.synthesizer, FairScheduler(slots))]
        if BULK_LANE:
            self.lanes.append(Lane(self.bulk_synthesizer, FairScheduler(slots)))
        self.planner = SpeechPlanner(self.voices, Phonemizers(), kokoro_config()["vocab"], SETTINGS.max_text_chars)
        list(self.planner.plan(WARMUP_TEXT, "af_heart", 1.0, "a"))  # loads spaCy and the lexicon now

    @app.get("/tts/", response_model=None)
    @app.get("/tts", include_in_schema=False, response_model=None)
    async def info(self) -> dict:
        return {
            "name": "Kokoro TTS API",
            "version": VERSION,
            "model": "Kokoro-82M v1.0",
            "endpoints": {
                "POST /tts/": "Text to speech: JSON with base64 audio and word timestamps, or streamed audio",
                "GET /tts/voices": "The voices available",
                "GET /tts/health": "Whether the model is loaded; 503 until it is",
                "GET /tts/": "This description",
            },
            "parameters": {
                name: {"type": str(field.annotation), "default": field.default, "description": field.description}
                for name, field in TTSRequest.model_fields.items()
            },
            "features": [
                "Kokoro-82M with 54 stock voices and comma-joined voice blends",
                "word timestamps in the user's own words, carried across chunks",
                "streaming: the first audio leaves after the first short chunk",
                "wav, mp3 and aac output",
                "adaptive batching of chunks across requests",
            ],
        }

    @app.get("/tts/voices", response_model=VoicesResponse)
    async def list_voices(self) -> VoicesResponse:
        names = self.voices.names
        return VoicesResponse(voices=names, count=len(names))

    @app.get("/tts/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    async def health(self) -> JSONResponse:
        # Once the synthesizer has answered, the model is loaded for the life of this process: later
        # checks reuse that answer, so health does not flap while the synthesizer is busy with work.
        if self.synthesizer_status is None:
            try:
                with anyio.fail_after(HEALTH_TIMEOUT_S):
                    statuses = await asyncio.gather(*(lane.synthesizer.to_async.status() for lane in self.lanes))
                    self.synthesizer_status = statuses[0]
            except Exception as exc:
                log.info("synthesizer not ready: %s", exc)
                body = HealthResponse(
                    status="unhealthy", voices_available=len(self.voices.names), device=None, model_loaded=False
                )
                return JSONResponse(body.model_dump(), status_code=503)
        body = HealthResponse(
            status="healthy",
            voices_available=len(self.voices.names),
            device=self.synthesizer_status.device,
            model_loaded=True,
            weights_source=self.synthesizer_status.weights_source,
        )
        return JSONResponse(body.model_dump())

    @app.post("/tts/", responses=TTS_RESPONSES, response_model=None)
    @app.post("/tts", include_in_schema=False, response_model=None)
    async def tts(self, request: Request) -> JSONResponse | StreamingResponse:
        try:
            tts_request = TTSRequest.model_validate(await _read_fields(request))
            chunks = await anyio.to_thread.run_sync(
                self.planner.plan, tts_request.text, tts_request.voice, tts_request.speed, tts_request.lang
            )
        except ValidationError as exc:
            return _rejected(_explain(exc))
        except InvalidInput as exc:
            return _rejected(str(exc))
        IN_FLIGHT.inc()
        spoken = self._spoken(chunks, tts_request)
        if tts_request.include_timestamps:
            try:
                return await self._json_response(spoken, tts_request)
            finally:
                IN_FLIGHT.dec()
        try:
            return await self._stream_response(spoken, tts_request)
        except BaseException:
            IN_FLIGHT.dec()  # after the response starts, its body decrements
            raise

    async def _spoken(self, chunks: Iterator[Chunk], req: TTSRequest) -> AsyncIterator[tuple[Chunk, Rendered]]:
        """Each chunk with its audio, in order; the next chunk is already in the synthesizer's
        queue while this one is encoded and sent, so that chunks of many requests batch together."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        served_s = 0.0

        async def synthesize(chunk: Chunk, lane: Lane) -> tuple[Chunk, Rendered]:
            job = ChunkJob(token_ids=list(chunk.token_ids), voice=req.voice, speed=req.speed)
            audio = (await lane.synthesizer.to_async.synthesize([job]))[0]
            samples = np.frombuffer(audio.pcm16, dtype="<i2").astype(np.float32) / 32767.0
            return chunk, Rendered(samples, np.asarray(audio.frames, dtype=np.int64))

        def submit(chunk: Chunk, lane: Lane) -> asyncio.Future[tuple[Chunk, Rendered]]:
            return asyncio.ensure_future(lane.scheduler.run(served_s, lambda: synthesize(chunk, lane)))

        def next_chunk() -> Chunk | None:
            return next(chunks, None)

        # the first chunk decides how soon the caller hears anything; later ones take the bulk lane
        first_lane, later_lane = self.lanes[0], self.lanes[-1]
        chunk = await anyio.to_thread.run_sync(next_chunk)
        pending = submit(chunk, first_lane) if chunk else None
        first = True
        try:
            while pending is not None:
                chunk = await anyio.to_thread.run_sync(next_chunk)
                upcoming = submit(chunk, later_lane) if chunk else None
                result = await pending
                served_s += result[1].audio.shape[0] / SAMPLE_RATE
                if first:
                    FIRST_AUDIO.observe(loop.time() - started)
                    first = False
                pending = upcoming
                yield result
        finally:
            if pending is not None:
                pending.cancel()

    async def _json_response(self, spoken: AsyncIterator[tuple[Chunk, Rendered]], req: TTSRequest) -> JSONResponse:
        timeline = Timeline()
        pieces, words = [], []
        async for chunk, rendered in spoken:
            placed = timeline.add(chunk, rendered)
            pieces.append(placed.audio)
            words.extend(placed.words)
        audio = encode_whole(np.concatenate(pieces), req.format)
        AUDIO_SECONDS.inc(timeline.duration_s)
        REQUESTS.labels(req.format, "json", "200").inc()
        body = TTSResponse(
            audio=base64.b64encode(audio).decode("ascii"),
            audio_format=req.format,
            word_timestamps=[
                WordTimestamp(
                    word=w.word, start_time=w.start_s, end_time=w.end_s, phonemes=w.phonemes, whitespace=w.whitespace
                )
                for w in words
            ],
            total_duration=round(timeline.duration_s, 3),
            voice=req.voice,
            speed=req.speed,
            text=req.text,
        )
        return JSONResponse(body.model_dump())

    async def _stream_response(
        self, spoken: AsyncIterator[tuple[Chunk, Rendered]], req: TTSRequest
    ) -> StreamingResponse:
        # The first chunk is rendered before the response starts, so a failure is still a clean error.
        first = await anext(spoken)
        encoder = STREAM_ENCODERS[req.format]()
        timeline = Timeline()

        async def body() -> AsyncIterator[bytes]:
            status = "200"
            try:
                yield encoder.encode(timeline.add(*first).audio)
                async for chunk, rendered in spoken:
                    yield encoder.encode(timeline.add(chunk, rendered).audio)
                yield encoder.flush()
            except Exception:
                status = "cut"
                log.exception("stream cut after %.2f s of audio", timeline.duration_s)
                raise
            finally:
                AUDIO_SECONDS.inc(timeline.duration_s)
                REQUESTS.labels(req.format, "stream", status).inc()
                IN_FLIGHT.dec()

        headers = {
            "X-Voice": req.voice,
            "X-Speed": str(req.speed),
            "X-Text-Length": str(len(req.text)),
            "X-Include-Timestamps": "false",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
        return StreamingResponse(body(), media_type=encoder.media_type, headers=headers)


@app.api_route("/tts/{unknown:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def unknown_route(unknown: str) -> JSONResponse:
    """Registered last: BentoML's outer router would answer a plain-text 404."""
    return error(404, f"no route /tts/{unknown}; see GET /tts/ for the endpoints")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _read_fields(request: Request) -> dict:
    """The request's fields from JSON or a form; anything else is an input error."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            fields = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"the body is not valid JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise InvalidInput('the JSON body must be an object, e.g. {"text": "Hello", "voice": "af_heart"}')
        return fields
    if content_type in FORM_TYPES:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raise InvalidInput(
        f"unsupported Content-Type '{content_type or 'none'}'; send application/json, "
        "application/x-www-form-urlencoded or multipart/form-data"
    )


def _rejected(message: str) -> JSONResponse:
    REQUESTS.labels("none", "none", "400").inc()
    return error(400, message)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as one sentence per field, naming the field and what it accepts."""
    messages = []
    for problem in exc.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        if problem["type"] == "missing":
            messages.append(f"'{field}' is required")
        else:
            messages.append(f"'{field}': {problem['msg']} (got {problem.get('input')!r})")
    return "; ".join(messages)
