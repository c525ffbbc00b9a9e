"""The API key a browser's WebSocket sends as ?api_key= never reaches a log: service.py's app,
served by uvicorn as BentoML starts it (log_config=None), with every request logger at INFO."""

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from websockets.sync.client import connect

import service
from serving.core.log_redaction import REQUEST_LOGGERS, redact
from tests.live import free_port

pytestmark = pytest.mark.http

SECRET = "s3cret-key-value"


@contextlib.contextmanager
def serving(port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # waits for a state, asserts nothing on time
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_query_string_key_is_redacted_from_every_request_log(caplog):
    for name in REQUEST_LOGGERS:
        caplog.set_level(logging.INFO, logger=name)
    with serving(free_port()) as host:
        requests.get(f"http://{host}/tts/health?x=1&api_key={SECRET}", timeout=30)
        with contextlib.suppress(Exception), connect(f"ws://{host}/tts/websocket?api_key={SECRET}", open_timeout=30):
            pass
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/tts/health?x=1&api_key=[redacted]" in logged  # uvicorn.access wrote the target
    assert "/tts/websocket?api_key=[redacted]" in logged  # and uvicorn.error the socket's
    assert SECRET not in logged and SECRET not in caplog.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /tts/websocket?api_key=abc HTTP/1.1", "GET /tts/websocket?api_key=[redacted] HTTP/1.1"),
        ("/p?a=1&API_KEY=abc&b=2", "/p?a=1&API_KEY=[redacted]&b=2"),
        ("/p?api_key=", "/p?api_key=[redacted]"),
        ("no key here", "no key here"),
    ],
)
def test_redact(line, expected):
    assert redact(line) == expected
