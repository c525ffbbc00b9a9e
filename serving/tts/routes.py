"""The Kokoro TTS API's routes: POST /tts/ and /tts/stream, GET /tts/voices, /tts/health and
/tts/ (what the server offers), and the catch-all that answers an unknown /tts/ path in JSON.

A route reads the fields of a `TTSRequest` and hands them to the TTSServer; its answer is JSON
with base64 audio and word timestamps, the audio file streamed, or NDJSON events."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

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

from ..core.errors import error_response
from ..core.lifecycle import TTSServer, server_of
from . import demo

HEALTH_PATH = "/tts/health"
#: the routes whose answers are counted by route; "/tts" is counted as "/tts/"
ROUTES = frozenset({"/tts/", "/tts/stream", "/tts/voices", HEALTH_PATH})
ALIASES = {"/tts": "/tts/"}
#: routes called without a key: by an orchestrator or a load balancer, and the demo page's static files
OPEN_PATHS = frozenset({HEALTH_PATH, *demo.PATHS})
ENDPOINTS = {
    "POST /tts/": "Text to speech: JSON with base64 audio and word timestamps, or streamed audio",
    "POST /tts/stream": "Text to speech as NDJSON: each chunk's audio and words as soon as it is ready",
    "GET /tts/voices": "The voices available",
    f"GET {HEALTH_PATH}": "Whether the model is loaded; 503 until it is",
    "GET /tts/": "This description",
    f"GET {demo.PAGE_PATH}": "A demo page: speak text in the browser, each word highlighted as it is heard",
}


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


def register(app: FastAPI, version: str, endpoints: dict[str, str]) -> None:
    """Adds the /tts/ routes and the demo page to `app`; GET /tts/ lists `endpoints`, every
    face's. Call `register_unknown` after every other face's routes."""

    @app.get("/tts/", response_model=None)
    @app.get("/tts", include_in_schema=False, response_model=None)
    async def info() -> dict:
        return api_info(version, endpoints)

    @app.get("/tts/voices", response_model=VoicesResponse)
    async def list_voices(request: Request) -> VoicesResponse:
        return VoicesResponse.of(server_of(request).planner.voices.names)

    @app.get(HEALTH_PATH, response_model=HealthResponse, responses={503: {"model": HealthResponse}})
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

    demo.register(app)


def register_unknown(app: FastAPI) -> None:
    @app.api_route("/tts/{unknown:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown_route(unknown: str) -> JSONResponse:
        """Registered last: BentoML's outer router would answer a plain-text 404."""
        return error_response(404, f"no route /tts/{unknown}; see GET /tts/ for the endpoints")


def api_info(version: str, endpoints: dict[str, str]) -> dict:
    return {
        "name": "Kokoro TTS API",
        "version": version,
        "model": "Kokoro-82M v1.0",
        "endpoints": endpoints,
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
