"""TTS requests sent on threads of their own: timed to their last byte, and closable, so that a test
can keep work running in the background and hang up on it at the end, as a client that gives up
does. http.client, not requests: shutting a socket down ends a read blocked on it in another thread.
"""

import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass

#: a refusal must come at once: the client can try another replica instead of waiting
REFUSAL_LIMIT_S = 1.0
#: how far past the admission deadline a client waits: an admitted request may finish a little
#: late, and is then seen as late, not as a timeout
CLIENT_MARGIN_S = 60.0
#: an error message is shown up to this long (an unknown voice's lists all 54 voices)
MESSAGE_CHARS = 160


@dataclass(frozen=True)
class Outcome:
    """How a request ended: an HTTP status, or "timeout", "closed" (by the test) or "error"."""

    status: int | str
    seconds: float
    retry_after: str | None = None
    #: the JSON body's "error", for an answer that is not speech
    error: str | None = None
    size_bytes: int = 0
    detail: str = ""

    def served_or_refused_in_time(self, deadline_s: float) -> bool:
        """200 within the deadline, or 429 with a JSON error and a Retry-After within REFUSAL_LIMIT_S."""
        if self.status == 200:
            return self.seconds <= deadline_s
        return (
            self.status == 429 and self.seconds < REFUSAL_LIMIT_S and bool(self.retry_after) and self.error is not None
        )

    def __str__(self) -> str:
        if self.status == 200:
            return f"200 in {self.seconds:.1f} s, {self.size_bytes:,} bytes"
        if isinstance(self.status, int):
            retry = f", Retry-After {self.retry_after}" if self.retry_after else ""
            message = self.error or self.detail
            message = message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 3] + "..."
            return f"{self.status} in {self.seconds:.3f} s{retry}: {message}"
        return f"{self.status} after {self.seconds:.1f} s {self.detail}".rstrip()


class Call:
    """One POST of JSON `fields` on its own thread, given up after `timeout_s` in all."""

    def __init__(self, base: str, path: str, fields: dict, timeout_s: float):
        self.url = urllib.parse.urlsplit(base)
        self.path = path
        self.body = json.dumps(fields).encode()
        self.timeout_s = timeout_s
        self.outcome: Outcome | None = None
        self._lock = threading.Lock()
        #: why the socket was shut down: "closed" by the test, or "timeout"
        self._ended_by: str | None = None
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(timeout_s, self._hang_up, ("timeout",))
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._timer.daemon = True
        self._timer.start()
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> Outcome | None:
        """The outcome, or None when it has not ended within `timeout_s`."""
        self._thread.join(timeout_s)
        return self.outcome

    def close(self) -> None:
        """Hangs up: the server sees the client leave, the call ends as "closed"."""
        self._hang_up("closed")

    def _hang_up(self, reason: str) -> None:
        with self._lock:
            if self.outcome is not None or self._ended_by is not None:
                return
            self._ended_by = reason
            if self._socket is not None:
                with contextlib.suppress(OSError):  # already closed by the other side
                    self._socket.shutdown(socket.SHUT_RDWR)

    def _send(self) -> None:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=self.timeout_s)
        try:
            connection.connect()
            with self._lock:
                if self._ended_by is not None:
                    raise ConnectionAbortedError("ended before it was sent")
                self._socket = connection.sock
            connection.request("POST", self.path, self.body, {"Content-Type": "application/json"})
            reply = connection.getresponse()
            body = reply.read()
            with self._lock:
                self.outcome = Outcome(
                    reply.status,
                    time.perf_counter() - started,
                    reply.getheader("Retry-After"),
                    _error_of(body, reply.getheader("Content-Type", "")),
                    len(body),
                )
        except (OSError, http.client.HTTPException) as exc:
            with self._lock:
                detail = "" if self._ended_by else f"({exc!r})"
                self.outcome = Outcome(self._ended_by or "error", time.perf_counter() - started, detail=detail)
        finally:
            self._timer.cancel()
            connection.close()


def _error_of(body: bytes, content_type: str) -> str | None:
    if not content_type.startswith("application/json"):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer.get("error") if isinstance(answer, dict) else None
