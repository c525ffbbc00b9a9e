"""The ASGI app: every face's routes on one app, the app-wide error handlers, and the
middleware that runs before any route (the origin guard, CORS, the optional API key, each
request's record).

The app is built without a model: service.py (or a test) puts a `TTSServer` in
`app.state.server` once it has one; until then the TTS routes answer 503. This is the one
module that knows every face: a refusal made before a route runs is rendered in the shape of the
face its path belongs to.
"""

import logging
import tomllib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .books import routes as books
from .cartesia import routes as cartesia
from .core.access import ApiKeyMiddleware
from .core.config import ServingSettings
from .core.errors import CLIENT_CLOSED, ApiError, ClientLeft, StreamAborted, error_response
from .core.origins import OriginGuard
from .core.record import RequestRecordMiddleware
from .openai import routes as openai
from .tts import routes as tts

log = logging.getLogger("kokoro_tts")
#: the project's version, as pyproject.toml says it (the bento ships the file beside serving/)
VERSION = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
#: every route whose answers are counted by route, as path -> the route's label
ROUTES = {**{path: path for path in tts.ROUTES | cartesia.ROUTES | openai.ROUTES | books.ROUTES}, **tts.ALIASES}
STREAM_HEADERS = ("X-Voice", "X-Speed", "X-Text-Length", "X-Include-Timestamps", "Retry-After", "X-Request-ID")


def create_app(settings: ServingSettings) -> FastAPI:
    app = FastAPI(
        title="Kokoro TTS API",
        version=VERSION,
        description="Kokoro-82M text-to-speech: streamed audio and word timestamps",
    )
    app.state.server = None
    app.state.books = None

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

    tts.register(app, VERSION, {**tts.ENDPOINTS, **openai.ENDPOINTS, **cartesia.ENDPOINTS, **books.ENDPOINTS})
    openai.register(app)
    cartesia.register(app, settings.socket)
    books.register(app)
    tts.register_unknown(app)

    # added innermost first: the record sees every answer, CORS headers go on 401s too, a page
    # of another origin is refused before anything else
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, key=settings.api_key, open_paths=tts.OPEN_PATHS, refusal=refusal)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=list(STREAM_HEADERS),
            max_age=600,
        )
    app.add_middleware(OriginGuard, allowed=settings.cors_origins, refusal=refusal)
    app.add_middleware(RequestRecordMiddleware, routes=ROUTES, unlogged=frozenset({tts.HEALTH_PATH}))
    return app


def refusal(path: str, error: ApiError) -> JSONResponse:
    """A refusal made before any route runs, in the error shape of the face `path` belongs to."""
    if path.startswith(openai.PATH_PREFIX):  # OpenAI's clients read OpenAI's error shape
        return openai.refusal(error)
    return error.response()
