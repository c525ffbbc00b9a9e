"""Cartesia's routes on the app: the WebSocket and the bytes route."""

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response

from ..core.config import SocketLimits
from ..core.lifecycle import TTSServer, server_of
from .agent_socket import AgentSocket
from .bytes_route import bytes_route
from .messages import BYTES_PATH, PATH

#: the routes whose answers are counted by route (a socket's contexts are counted under PATH)
ROUTES = frozenset({BYTES_PATH})
ENDPOINTS = {
    f"POST {BYTES_PATH}": "Cartesia's bytes route: a transcript's audio, raw PCM at 8 to 48 kHz",
    f"WebSocket {PATH}": "Cartesia's WebSocket TTS protocol, for voice agents: text as it is "
    "written, raw PCM and word timestamps back, several contexts per socket",
}
#: WebSocket close code (RFC 6455): try again later
TRY_AGAIN_LATER = 1013


def register(app: FastAPI, limits: SocketLimits) -> None:
    """Adds /tts/websocket and /tts/bytes to `app` (the key, when one is set, is checked before
    them: serving.core.access.ApiKeyMiddleware); each socket is held to `limits`."""

    @app.post(BYTES_PATH, response_model=None, responses={200: {"description": "The audio, streamed"}})
    async def cartesia_bytes(http_request: Request) -> Response:
        return await bytes_route(http_request, server_of(http_request))

    @app.websocket(PATH)
    async def agent_socket(websocket: WebSocket) -> None:
        server: TTSServer | None = websocket.app.state.server
        if server is None:
            await websocket.close(TRY_AGAIN_LATER, "the server is starting")
            return
        await websocket.accept()
        socket = AgentSocket(server, websocket, limits)
        try:
            await socket.serve()
        finally:
            await socket.close()
