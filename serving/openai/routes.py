"""OpenAI-compatible routes: POST /v1/audio/speech, GET /v1/models, GET /v1/audio/voices.

OpenAI's clients (the official SDKs, and the many tools built on them) speak to Kokoro unchanged.
A speech request is translated into a TTSRequest (voice names mapped, speed fitted into Kokoro's
range) and answered by the same TTSServer lifecycle as /tts/: admission, chunk planning, the fair
lanes, cancellation when the client leaves, the same encoders. Only the framing differs: the audio
file streamed, or Server-Sent Events carrying it in base64 (both framed by serving.core.respond). Errors
keep OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so its clients raise their
usual exceptions.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from schemas import OpenAIErrorDetail

from ..core.errors import ApiError, ClientLeft
from ..core.lifecycle import server_of
from ..core.request import explain, read_body
from ..core.respond import sse_response, stream_response
from .messages import MODELS, OPENAI_VOICES, Model, ModelList, OpenAIErrorBody, SpeechRequest, Voice, VoiceList

log = logging.getLogger("kokoro_tts")
#: the paths OpenAI's clients call: refusals under it are in OpenAI's error shape
PATH_PREFIX = "/v1/"
#: the routes whose answers are counted by route
ROUTES = frozenset({"/v1/audio/speech", "/v1/models", "/v1/audio/voices"})
ENDPOINTS = {
    "POST /v1/audio/speech": "OpenAI-compatible text to speech (audio or SSE)",
    "GET /v1/models": "OpenAI-compatible model list",
    "GET /v1/audio/voices": "OpenAI's voice names and the Kokoro voices",
}
#: an error's status -> OpenAI's error `type` and `code`
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "origin_not_allowed"),
    404: ("invalid_request_error", "unknown_url"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


class InvalidField(ApiError):
    """A 400 that names the field at fault, for OpenAI's `param`."""

    status = 400

    def __init__(self, message: str, param: str | None):
        super().__init__(message)
        self.param = param


def openai_error(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    error_type, code = ERROR_TYPES.get(status, ("server_error", None))
    body = OpenAIErrorBody(error=OpenAIErrorDetail(message=message, type=error_type, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def refusal(error: ApiError) -> JSONResponse:
    """A refusal made before the route runs (the key, the origin), as OpenAI's clients read it."""
    return openai_error(error.status, error.message, None, error.headers)


class OpenAIRoute(APIRoute):
    """Renders every error of a /v1 route in OpenAI's shape; the app's handlers render /tts/'s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except InvalidField as exc:
                return openai_error(exc.status, exc.message, exc.param, exc.headers)
            except ApiError as exc:
                return openai_error(exc.status, exc.message, None, exc.headers)
            except ClientLeft:
                raise  # the app's handler answers 499 to nobody
            except Exception:
                log.exception("unhandled error on %s", request.url.path)
                return openai_error(500, "internal server error; the server log has the details")

        return handle


router = APIRouter(prefix="/v1", route_class=OpenAIRoute, tags=["OpenAI-compatible"])


@router.post(
    "/audio/speech",
    response_model=None,
    responses={
        200: {"description": "The audio file streamed, or text/event-stream with stream_format sse"},
        **{status: {"model": OpenAIErrorBody} for status in ERROR_TYPES},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SpeechRequest.model_json_schema()}},
        }
    },
)
async def speech(request: Request) -> Response:
    server = server_of(request)
    speech_request = await read_speech(request, server.max_body)
    if speech_request.model not in MODELS:
        raise InvalidField(f"unknown model '{speech_request.model}'; use one of {', '.join(MODELS)}", "model")
    streamer = sse_response if speech_request.stream_format == "sse" else stream_response
    played_as_sent = speech_request.stream or speech_request.stream_format == "sse"
    return await server.answer(request, speech_request.to_tts(), streamer, played_as_sent)


@router.get("/models", response_model=ModelList)
async def models() -> ModelList:
    return ModelList(data=[Model(id=model_id) for model_id in MODELS])


@router.get("/audio/voices", response_model=VoiceList)
async def voices(request: Request) -> VoiceList:
    server = server_of(request)
    mapped = [Voice(id=name, name=name, kokoro_voice=kokoro) for name, kokoro in OPENAI_VOICES.items()]
    own = [Voice(id=name, name=name, kokoro_voice=name) for name in server.planner.voices.names]
    return VoiceList(data=mapped + own)


@router.api_route("/{unknown:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def unknown_route(unknown: str) -> Response:
    return openai_error(404, f"no route /v1/{unknown}; the routes are /v1/audio/speech, /v1/models, /v1/audio/voices")


async def read_speech(request: Request, limit: int) -> SpeechRequest:
    """OpenAI's clients send JSON only; a bad field is a 400 whose `param` names it."""
    body = await read_body(request, limit)
    try:
        return SpeechRequest.model_validate_json(body)
    except ValidationError as exc:
        locations = [problem["loc"] for problem in exc.errors(include_url=False) if problem["loc"]]
        raise InvalidField(explain(exc), str(locations[0][0]) if locations else None) from None


def register(app: FastAPI) -> None:
    """Adds the /v1 routes to `app`."""
    app.include_router(router)
