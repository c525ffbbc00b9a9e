"""Answers that are not speech. Each says what the caller can do about it.

ApiError                 an HTTP status, a message and headers; rendered as {"error": message}
 ├── BadRequest          400: the caller can fix the request (engine.errors.InvalidInput maps here)
 ├── Unauthorized        401: no or a wrong API key
 ├── Forbidden           403: a page of another origin
 ├── BodyTooLarge        413: the body is over the size limit
 ├── Busy                429 + Retry-After: the server is full; try again later or elsewhere
 └── NotReady            503 + Retry-After: the model is loading, or a synthesizer is unavailable
ClientLeft               the client disconnected before its answer: logged and counted as 499
StreamAborted            a streamed body cut by a fault after its first byte (already logged)
"""

import math
from collections.abc import Callable

from fastapi.responses import JSONResponse

from schemas import ErrorResponse

#: status of a request or context whose client left or cancelled before its answer (nginx's
#: "client closed request")
CLIENT_CLOSED = 499
#: WebSocket close code (RFC 6455) for a socket refused by policy: no key, another origin, a flood
POLICY_VIOLATION = 1008


class ClientLeft(Exception):
    """The client disconnected before its answer was ready: the normal end of an abandoned request."""


class StreamAborted(Exception):
    """Raised out of a streamed body to abort it, so that the client sees it incomplete; the fault
    that caused it is its cause, and has been logged and counted."""


class ApiError(Exception):
    status = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.headers)


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str):
        super().__init__(message, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403


class BodyTooLarge(ApiError):
    status = 413

    def __init__(self, limit: int):
        super().__init__(f"the body is over {limit} bytes; send less text per request (TTS_MAX_BODY_BYTES)")


class _RetryLater(ApiError):
    def __init__(self, message: str, retry_after_s: float):
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(f"{message}; retry in {seconds} s", {"Retry-After": str(seconds)})


class Busy(_RetryLater):
    status = 429


class NotReady(_RetryLater):
    status = 503


#: renders a refusal made before any route runs (the key, the origin) for the request's path, in
#: the error shape of the face that path belongs to
Refusal = Callable[[str, ApiError], JSONResponse]


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse(error=message).model_dump(), status_code=status, headers=headers)
