"""A request's life in-process: refused at once when full, and over when its client leaves."""

import asyncio
import json
import time

import pytest
from prometheus_client import REGISTRY

pytestmark = pytest.mark.anyio

LONG_TEXT = "This sentence is one chunk of a long text, spoken clause after clause. " * 40
CHUNK_DELAY_S = 0.05


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def call_and_leave(app, body: dict, leave_after_s: float) -> list[dict]:
    """Drives the ASGI app as a server would for a client that disconnects after `leave_after_s`."""
    messages = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    left = asyncio.Event()
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if not left.is_set():  # as uvicorn does, what is sent after a disconnect goes nowhere
            sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/tts/",
        "raw_path": b"/tts/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"tts.test")],
        "client": ("127.0.0.1", 40000),
        "server": ("tts.test", 80),
    }
    call = asyncio.ensure_future(app(scope, receive, send))
    await asyncio.sleep(leave_after_s)
    left.set()
    await asyncio.wait_for(call, 5)
    return sent


@pytest.mark.parametrize("include_timestamps", [True, False])
async def test_nothing_more_is_rendered_once_the_client_leaves(make_server, include_timestamps):
    served = make_server(delay_s=CHUNK_DELAY_S)
    cancelled_before = metric("tts_chunks_cancelled_total")
    body = {"text": LONG_TEXT, "voice": "af_heart", "include_timestamps": include_timestamps}
    sent = await call_and_leave(served.app, body, leave_after_s=CHUNK_DELAY_S * 4.5)
    started_when_left = served.fake.started
    await asyncio.sleep(CHUNK_DELAY_S * 6)
    assert served.fake.started == started_when_left, "chunks were sent to the synthesizer after the client left"
    assert 3 <= started_when_left <= 6, started_when_left
    assert metric("tts_chunks_cancelled_total") == cancelled_before + 1
    assert served.server.admission.requests == 0 and served.server.admission.chars == 0
    assert metric("tts_requests_in_flight") == 0
    if not include_timestamps:
        assert sent[0]["status"] == 200  # the stream had started


async def test_a_client_that_leaves_while_queued_frees_its_place(make_server):
    served = make_server(delay_s=CHUNK_DELAY_S, max_requests=1, max_wait_s=5)
    first = asyncio.ensure_future(served.client.post("/tts/", json={"text": "Short one.", "voice": "af_heart"}))
    await asyncio.sleep(0.01)
    await call_and_leave(served.app, {"text": "Queued and gone.", "voice": "af_heart"}, leave_after_s=0.02)
    assert served.server.admission.queued == 0
    assert (await first).status_code == 200
    assert served.server.admission.requests == 0


async def test_a_full_server_refuses_at_once_with_429_and_retry_after(make_server):
    served = make_server(delay_s=CHUNK_DELAY_S, max_requests=2, max_queued=1, max_wait_s=0.3)
    body = {"text": LONG_TEXT[:600], "voice": "af_heart"}
    started = time.perf_counter()

    async def timed_post():
        reply = await served.client.post("/tts/", json=body)
        return reply, time.perf_counter() - started

    results = await asyncio.gather(*(timed_post() for _ in range(8)))
    statuses = sorted(reply.status_code for reply, _ in results)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 5, statuses
    for reply, seconds in results:
        if reply.status_code == 429:
            assert seconds < 1.0
            assert int(reply.headers["Retry-After"]) >= 1
            assert "busy" in reply.json()["error"]
    assert served.server.admission.requests == 0


async def test_long_texts_are_admitted_by_their_length(make_server):
    served = make_server(delay_s=CHUNK_DELAY_S, max_requests=10, max_chars=1_000, max_queued=0)
    long = {"text": LONG_TEXT[:900], "voice": "af_heart"}
    short = {"text": "A short one.", "voice": "af_heart"}
    replies = await asyncio.gather(
        served.client.post("/tts/", json=long),
        served.client.post("/tts/", json=long),
        served.client.post("/tts/", json=short),
    )
    assert [r.status_code for r in replies] == [200, 429, 200]


async def test_health_answers_at_once_while_the_server_is_full(make_server):
    served = make_server(delay_s=0.2, max_requests=1, max_queued=0)
    assert (await served.client.get("/tts/health")).status_code == 200
    busy = asyncio.ensure_future(served.client.post("/tts/", json={"text": LONG_TEXT[:300], "voice": "af_heart"}))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    health = await served.client.get("/tts/health")
    assert health.status_code == 200 and time.perf_counter() - started < 0.1
    assert (await served.client.post("/tts/", json={"text": "Hi.", "voice": "af_heart"})).status_code == 429
    assert (await busy).status_code == 200
