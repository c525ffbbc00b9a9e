"""Answers that are not speech. Each says what the caller can do about it.

ApiError                 an HTTP status, a message and headers; rendered as {"error": message}
 ├── BadRequest          400: the caller can fix the request (engine.errors.InvalidInput maps here)
 ├── Unauthorized        401: no or a wrong API key
 ├── BodyTooLarge        413: the body is over the size limit
 ├── Busy                429 + Retry-After: the server is full; try again later or elsewhere
 └── NotReady            503 + Retry-After: the model is loading, or a synthesizer is unavailable
ClientLeft               the client disconnected before its answer: logged and counted as 499
StreamAborted            a streamed body cut by a fault after its first byte (already logged)
"""

import math

from fastapi.responses import JSONResponse

from schemas import ErrorResponse


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


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse(error=message).model_dump(), status_code=status, headers=headers)
