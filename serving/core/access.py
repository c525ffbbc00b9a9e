"""The optional API key (TTS_API_KEY): what a request must carry to reach a route."""

import hmac
from urllib.parse import parse_qs

from fastapi import WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import POLICY_VIOLATION, Refusal, Unauthorized


class ApiKeyMiddleware:
    """With TTS_API_KEY set, every route but `open_paths` wants the key (`_given_key`): an HTTP
    request without it is a 401 in the shape `refusal` gives it, a WebSocket is closed before it
    opens (1008)."""

    def __init__(self, app: ASGIApp, key: str, open_paths: frozenset[str], refusal: Refusal):
        self.app = app
        self.key = key.encode()
        self.open_paths = open_paths
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        if carries_key(scope, self.key):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":  # refused before it opens: the client sees a 403
            await WebSocket(scope, receive, send).close(POLICY_VIOLATION, "send the API key as the X-API-Key header")
            return
        refused = Unauthorized("send the API key as 'Authorization: Bearer <key>'")
        await self.refusal(scope["path"], refused)(scope, receive, send)


def carries_key(scope: Scope, key: bytes) -> bool:
    return hmac.compare_digest(_given_key(scope), key)


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
