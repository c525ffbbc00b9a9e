"""Each request's id: the client's own `X-Request-ID` when it sent a sane one, else a new one.

Sent back on every response (OpenAI's clients read `x-request-id`, and LiveKit's warns on every
call without it) and put on every log line about the request, so a client's report and the
server's log can be matched.
"""

import contextvars
import re
import uuid

HEADER = "x-request-id"
#: what a client's id may hold: it is echoed into a response header and the log
_SANE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def assign(sent: str | None) -> str:
    """The id of the request being served in this context, from the header the client sent."""
    request_id = sent if sent is not None and _SANE.fullmatch(sent) else uuid.uuid4().hex
    _current.set(request_id)
    return request_id


def current() -> str:
    """The id of the request being served in this context ("-" outside one)."""
    return _current.get()
