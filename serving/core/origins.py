"""Which web pages may use the API: the server's own (the demo page), and those TTS_CORS_ORIGINS names.

CORS headers alone would not do: a browser sends a cross-origin form POST without asking first,
and opens a WebSocket to any host with no CORS check at all, so any page on the network could
make the server speak, or read its audio from the socket. A browser names the page's origin in
`Origin`; a request whose Origin is neither this server's own (its Host) nor an allowed one is
refused before it reaches a route. Clients that are not browsers send no Origin and are not
concerned.
"""

from urllib.parse import urlsplit

from fastapi import WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import POLICY_VIOLATION, Forbidden, Refusal

#: TTS_CORS_ORIGINS' value that lets every page in
ANY_ORIGIN = "*"


def same_origin(origin: str, host: str) -> bool:
    """Whether a page at `origin` is served by the host the request was sent to (browsers omit a
    default port in both)."""
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


class OriginGuard:
    """Refuses a browser's request or WebSocket from a page of another origin that `allowed` does
    not name: a 403 JSON answer in the shape `refusal` gives it, or the socket closed before it
    opens (the client sees a 403)."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...], refusal: Refusal):
        self.app = app
        self.refusal = refusal
        self.any = ANY_ORIGIN in allowed
        self.allowed = frozenset(origin.rstrip("/").lower() for origin in allowed)

    def admits(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None or self.any:
            return True
        page = origin.decode("latin-1").strip()
        return page.lower() in self.allowed or same_origin(page, headers.get(b"host", b"").decode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.admits(scope):
            return await self.app(scope, receive, send)
        reason = "a page of another origin; the server's TTS_CORS_ORIGINS lets origins in"
        if scope["type"] == "websocket":
            await WebSocket(scope, receive, send).close(POLICY_VIOLATION, f"refused {reason}")
            return
        refused = Forbidden(f"cross-origin request refused: {reason}")
        await self.refusal(scope["path"], refused)(scope, receive, send)
