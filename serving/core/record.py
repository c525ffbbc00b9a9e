"""Every HTTP request's id, its answer counted by route and status, and its log line."""

import logging
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import request_id
from .errors import CLIENT_CLOSED
from .metrics import RESPONSES

log = logging.getLogger("kokoro_tts")


class RequestRecordMiddleware:
    """Gives every request its id (sent back as X-Request-ID), counts every answer of the routes
    `routes` names (path -> the route's label; any other path is "other") by route and status,
    errors and refusals included, and logs each with its id, but those of the `unlogged` routes.

    A client gone before its answer is a 499. A fault after the first byte leaves the status
    sent (200) here; the stream's own failure count and log line say it failed."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, str], unlogged: frozenset[str]):
        self.app = app
        self.routes = routes
        self.unlogged = unlogged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent_id = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        this_id = request_id.assign(None if sent_id is None else sent_id.decode("latin-1"))
        route = self.routes.get(scope["path"], "other")
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
            if route != "other" and route not in self.unlogged:
                seconds = time.perf_counter() - started
                log.info("%s %s %d in %.3f s (request %s)", scope["method"], route, status, seconds, this_id)
