"""The HTTP face as an ASGI app: the Kokoro TTS API's routes, CORS and the origin guard, the optional API key,
status metrics.

The app is built without a model: service.py (or a test) puts a `TTSServer` in
`app.state.server` once it has one; until then the TTS routes answer 503. Every answer that is
not speech is JSON `{"error": ...}`; every answer carries an `X-Request-ID` and is counted by
route and status, and every answer of a TTS route is logged with its id.
"""

import hmac
import logging
import time
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.audio import STREAM_ENCODERS
from schemas import (
    ErrorResponse,
    HealthResponse,
    StreamChunkEvent,
    StreamDoneEvent,
    TTSRequest,
    TTSResponse,
    VoicesResponse,
)

from .cartesia import api as cartesia_api
from .core import request_id
from .core.config import ServingSettings
from .core.errors import ApiError, ClientLeft, StreamAborted, Unauthorized, error_response
from .core.lifecycle import TTSServer, server_of
from .core.metrics import RESPONSES
from .core.origins import OriginGuard
from .openai.api import openai_error
from .openai.api import register as register_openai_api
from .tts import demo

log = logging.getLogger("kokoro_tts")
VERSION = "0.2.0"
#: status of a request whose client left before its answer (nginx's "client closed request")
CLIENT_CLOSED = 499
#: routes called without a key: by an orchestrator or a load balancer, and the demo page's static files
OPEN_PATHS = frozenset({"/tts/health", *demo.PATHS})
ROUTES = frozenset(
    {
        "/tts/",
        "/tts/stream",
        "/tts/bytes",
        "/tts/voices",
        "/tts/health",
        "/v1/audio/speech",
        "/v1/models",
        "/v1/audio/voices",
    }
)
#: WebSocket close code (RFC 6455) for a socket without the key
POLICY_VIOLATION = 1008
STREAM_HEADERS = ("X-Voice", "X-Speed", "X-Text-Length", "X-Include-Timestamps", "Retry-After", "X-Request-ID")


def _error_model(description: str) -> dict:
    return {"model": ErrorResponse, "description": description}


TTS_REQUEST_BODY = {
    "required": True,
    "content": {
        media_type: {"schema": TTSRequest.model_json_schema()}
        for media_type in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    },
}
TTS_RESPONSES = {
    200: {
        "model": TTSResponse,
        "description": "include_timestamps true: JSON with base64 audio and word timestamps; "
        "false: the audio file, streamed as it is synthesised",
        "content": {encoder.media_type: {"schema": {"type": "string", "format": "binary"}}
                    for encoder in STREAM_ENCODERS.values()},
    },
    400: _error_model("Invalid input: the message says which field and what it accepts"),
    401: _error_model("TTS_API_KEY is set and the request has no or a wrong `Authorization: Bearer` key"),
    413: _error_model("The body is over TTS_MAX_BODY_BYTES"),
    429: _error_model("The server is full; the Retry-After header says when to try again"),
    503: _error_model("The model is loading or a synthesizer is unavailable; see Retry-After"),
}  # fmt: skip
#: where FastAPI puts the models it documents
COMPONENT_REF = "#/components/schemas/{model}"
TTS_STREAM_RESPONSES = {
    **TTS_RESPONSES,
    200: {
        "description": "A StreamChunkEvent line per chunk as soon as it is synthesised, then a StreamDoneEvent line",
        "content": {"application/x-ndjson": {"schema": {"anyOf": [
            event.model_json_schema(ref_template=COMPONENT_REF) for event in (StreamChunkEvent, StreamDoneEvent)
        ]}}},
    },
}  # fmt: skip


def create_app(settings: ServingSettings) -> FastAPI:
    app = FastAPI(
        title="Kokoro TTS API",
        version=VERSION,
        description="Kokoro-82M text-to-speech: streamed audio and word timestamps",
    )
    app.state.server = None

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(ClientLeft)
    async def client_left(request: Request, exc: ClientLeft) -> Response:
        return Response(status_code=CLIENT_CLOSED)

    @app.exception_handler(Exception)
    async def server_fault(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StreamAborted):  # logged where it was cut; its 200 has left
            log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal server error; the server log has the details")

    @app.get("/tts/", response_model=None)
    @app.get("/tts", include_in_schema=False, response_model=None)
    async def info() -> dict:
        return api_info()

    @app.get("/tts/voices", response_model=VoicesResponse)
    async def list_voices(request: Request) -> VoicesResponse:
        return VoicesResponse.of(server_of(request).planner.voices.names)

    @app.get("/tts/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    async def health(request: Request) -> JSONResponse:
        server: TTSServer | None = request.app.state.server
        status = None if server is None else await server.health.status()
        voices = 0 if server is None else len(server.planner.voices.names)
        if status is None:
            body = HealthResponse(status="unhealthy", voices_available=voices, device=None, model_loaded=False)
            return JSONResponse(body.model_dump(), status_code=503)
        body = HealthResponse(
            status="healthy",
            voices_available=voices,
            device=status.device,
            model_loaded=True,
            weights_source=status.weights_source,
        )
        return JSONResponse(body.model_dump())

    @app.post("/tts/", responses=TTS_RESPONSES, response_model=None, openapi_extra={"requestBody": TTS_REQUEST_BODY})
    @app.post("/tts", include_in_schema=False, response_model=None)
    async def tts(request: Request) -> Response:
        return await server_of(request).speak(request)

    @app.post(
        "/tts/stream",
        responses=TTS_STREAM_RESPONSES,
        response_model=None,
        openapi_extra={"requestBody": TTS_REQUEST_BODY},
    )
    async def tts_stream(request: Request) -> Response:
        return await server_of(request).speak_events(request)

    register_openai_api(app)
    cartesia_api.register(app, settings.socket)
    demo.register(app)

    @app.api_route("/tts/{unknown:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown_route(unknown: str) -> JSONResponse:
        """Registered last: BentoML's outer router would answer a plain-text 404."""
        return error_response(404, f"no route /tts/{unknown}; see GET /tts/ for the endpoints")

    # added innermost first: the record sees every answer, CORS headers go on 401s too, a page
    # of another origin is refused before anything else
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=list(STREAM_HEADERS),
            max_age=600,
        )
    app.add_middleware(OriginGuard, allowed=settings.cors_origins)
    app.add_middleware(RequestRecordMiddleware)
    return app


def api_info() -> dict:
    return {
        "name": "Kokoro TTS API",
        "version": VERSION,
        "model": "Kokoro-82M v1.0",
        "endpoints": {
            "POST /tts/": "Text to speech: JSON with base64 audio and word timestamps, or streamed audio",
            "POST /tts/stream": "Text to speech as NDJSON: each chunk's audio and words as soon as it is ready",
            "GET /tts/voices": "The voices available",
            "GET /tts/health": "Whether the model is loaded; 503 until it is",
            "GET /tts/": "This description",
            f"GET {demo.PAGE_PATH}": "A demo page: speak text in the browser, each word highlighted as it is heard",
            "POST /v1/audio/speech": "OpenAI-compatible text to speech (audio or SSE)",
            "GET /v1/models": "OpenAI-compatible model list",
            "GET /v1/audio/voices": "OpenAI's voice names and the Kokoro voices",
            f"POST {cartesia_api.BYTES_PATH}": "Cartesia's bytes route: a transcript's audio, raw PCM at 8 to 48 kHz",
            f"WebSocket {cartesia_api.PATH}": "Cartesia's WebSocket TTS protocol, for voice agents: text as it is "
            "written, raw PCM and word timestamps back, several contexts per socket",
        },
        "parameters": {
            name: {"type": str(field.annotation), "default": field.default, "description": field.description}
            for name, field in TTSRequest.model_fields.items()
        },
        "features": [
            "Kokoro-82M with 54 stock voices and comma-joined voice blends",
            "word timestamps in the user's own words, carried across chunks",
            "streaming: the first audio leaves after the first short chunk",
            "wav, mp3, aac, opus, flac and raw pcm output",
            "adaptive batching of chunks across requests",
            "admission by projected finish time: served in turn, or 429 with Retry-After at once",
            "work stops when a client leaves; a fault after the first byte is never a clean end",
        ],
    }


class ApiKeyMiddleware:
    """With TTS_API_KEY set, every route but OPEN_PATHS wants the key (`_given_key`): an HTTP
    request without it is a 401, a WebSocket is closed before it opens (1008)."""

    def __init__(self, app: ASGIApp, key: str):
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if hmac.compare_digest(_given_key(scope), self.key):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":  # refused before it opens: the client sees a 403
            await WebSocket(scope, receive, send).close(POLICY_VIOLATION, "send the API key as the X-API-Key header")
            return
        refusal = Unauthorized("send the API key as 'Authorization: Bearer <key>'")
        if scope["path"].startswith("/v1/"):  # OpenAI's clients read OpenAI's error shape
            await openai_error(refusal.status, refusal.message, None, refusal.headers)(scope, receive, send)
        else:
            await refusal.response()(scope, receive, send)


def _given_key(scope: Scope) -> bytes:
    """The key a request carries: a bearer token; else `X-API-Key`, as Cartesia's clients send
    it; else, on a WebSocket, `?api_key=` (a browser cannot set a socket's headers)."""
    headers = dict(scope["headers"])
    scheme, _, bearer = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() == b"bearer":
        return bearer.strip()
    if b"x-api-key" in headers or scope["type"] != "websocket":
        return headers.get(b"x-api-key", b"").strip()
    return parse_qs(scope["query_string"].decode("latin-1")).get("api_key", [""])[0].encode()


class RequestRecordMiddleware:
    """Gives every request its id (sent back as X-Request-ID), counts every answer of the TTS
    routes by route and status, errors and refusals included, and logs each with its id.

    A client gone before its answer is a 499. A fault after the first byte leaves the status
    sent (200) here; the stream's own failure count and log line say it failed."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent_id = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        this_id = request_id.assign(None if sent_id is None else sent_id.decode("latin-1"))
        path = scope["path"] if scope["path"] != "/tts" else "/tts/"
        route = path if path in ROUTES else "other"
        status = CLIENT_CLOSED
        started = time.perf_counter()

        async def recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", this_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, recorded)
        except Exception:
            status = 500 if status == CLIENT_CLOSED else status  # ServerErrorMiddleware answers it
            raise
        finally:
            RESPONSES.labels(route, str(status)).inc()
            if route not in ("other", "/tts/health"):
                seconds = time.perf_counter() - started
                log.info("%s %s %d in %.3f s (request %s)", scope["method"], path, status, seconds, this_id)
