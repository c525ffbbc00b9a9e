"""Cartesia's routes on the app: the WebSocket and the bytes route."""

import logging
import time

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response

from ..core.config import SocketLimits
from ..core.lifecycle import TTSServer, server_of
from ..core.metrics import RESPONSES
from .agent_socket import TRY_AGAIN_LATER, AgentSocket
from .bytes_route import bytes_route
from .clients import SocketClients
from .messages import BYTES_PATH, PATH, ErrorMessage

#: the ASGI extension by which a WebSocket's handshake is answered as HTTP (uvicorn's has it)
DENIAL = "websocket.http.response"
#: what uvicorn's websockets-sansio protocol (its default) logs at ERROR after every denial
#: response, though the response went out: it never marks such a handshake done
#: (Kludex/uvicorn#3138). The route returns without a handshake only after a denial.
INCOMPLETE_HANDSHAKE = "ASGI callable returned without completing handshake."
#: the routes whose answers are counted by route (a socket's contexts are counted under PATH)
ROUTES = frozenset({BYTES_PATH})
ENDPOINTS = {
    f"POST {BYTES_PATH}": "Cartesia's bytes route: a transcript's audio, raw PCM at 8 to 48 kHz",
    f"WebSocket {PATH}": "Cartesia's WebSocket TTS protocol, for voice agents: text as it is "
    "written, raw PCM and word timestamps back, several contexts per socket",
}


class DenialIsNoError(logging.Filter):
    """Drops uvicorn's INCOMPLETE_HANDSHAKE line: a client turned away at the handshake is an
    answer, logged as such (RESPONSES counts the 429), not a server error; an attacker refused
    hundreds of times a minute would otherwise fill the error log and page whoever watches it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != INCOMPLETE_HANDSHAKE


def register(app: FastAPI, limits: SocketLimits) -> None:
    """Adds /tts/websocket and /tts/bytes to `app` (the key, when one is set, is checked before
    them: serving.core.access.ApiKeyMiddleware); each socket is held to `limits`, and each client
    address to `limits`' sockets per client (serving.cartesia.clients)."""
    clients = SocketClients(limits.max_sockets_per_client, limits.abuse_cooldown_s, time.monotonic)
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, DenialIsNoError) for existing in uvicorn_log.filters):
        uvicorn_log.addFilter(DenialIsNoError())

    @app.post(BYTES_PATH, response_model=None, responses={200: {"description": "The audio, streamed"}})
    async def cartesia_bytes(http_request: Request) -> Response:
        return await bytes_route(http_request, server_of(http_request))

    @app.websocket(PATH)
    async def agent_socket(websocket: WebSocket) -> None:
        server: TTSServer | None = websocket.app.state.server
        if server is None:
            await websocket.close(TRY_AGAIN_LATER, "the server is starting")
            return
        address = websocket.client.host if websocket.client else ""
        refusal = clients.refusal(address)
        if refusal is not None and DENIAL in websocket.scope.get("extensions", {}):
            # refused at the handshake, as HTTP: no socket is opened for a client turned away
            error = ErrorMessage(context_id="", status_code=429, error=refusal).model_dump_json()
            await websocket.send_denial_response(Response(error, 429, media_type="application/json"))
            RESPONSES.labels(PATH, "429").inc()
            return
        await websocket.accept()
        socket = AgentSocket(server, websocket, limits, clients, address)
        if refusal is not None:
            await socket.turn_away(refusal)
            return
        try:
            await socket.serve()
        finally:
            clients.left(address)
            if socket.abused:
                clients.abused(address)
            await socket.close()
