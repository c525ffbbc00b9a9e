"""A request's life in-process: validated first, admitted in its turn or refused at once, and over
when its client leaves. The fake synthesizer holds each chunk until the test releases it."""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from starlette.requests import Request

from schemas import TTSRequest
from serving.core.admission import Admission
from serving.core.config import ServingSettings
from serving.core.errors import ClientLeft
from serving.core.health import HealthMonitor
from serving.core.lanes import Lane
from serving.core.lifecycle import TTSServer
from serving.core.respond import Release, ReleasingStream, RenderedChunks, stream_response
from serving.core.schedule import FairScheduler

from ..conftest import LIMITS, FakeSynthesizer, eventually, serve_until_done

pytestmark = [pytest.mark.http, pytest.mark.anyio]

LONG_TEXT = "This sentence is one chunk of a long text, spoken clause after clause. " * 40


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def call_and_leave(app, body: dict, leave_when: Callable[[], Awaitable[object]]) -> list[dict]:
    """Drives the ASGI app as a server would for a client that disconnects once `leave_when` returns."""
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
    await leave_when()
    left.set()
    await asyncio.wait_for(call, 30)
    return sent


@pytest.mark.parametrize("include_timestamps", [True, False])
async def test_nothing_more_is_rendered_once_the_client_leaves(make_server, include_timestamps):
    served = make_server(held=True)
    cancelled_before = metric("tts_chunks_cancelled_total")
    body = {"text": LONG_TEXT, "voice": "af_heart", "include_timestamps": include_timestamps}

    async def after_two_chunks() -> None:
        for _ in range(2):
            (await served.fake.next_call()).release()
        await served.fake.next_call()  # the third chunk is inside the model when the client leaves

    sent = await call_and_leave(served.app, body, after_two_chunks)
    assert served.fake.started == 3 and served.fake.waiting_calls() == 0, "chunks were sent after the client left"
    assert metric("tts_chunks_cancelled_total") >= cancelled_before + 1
    admission = served.server.admission
    assert admission.requests == admission.backlog == admission.in_flight_chars == 0
    assert metric("tts_requests_in_flight") == 0
    if not include_timestamps:
        assert sent[0]["status"] == 200  # the stream had started


async def test_a_client_that_leaves_while_queued_frees_its_place(make_server):
    served = make_server(held=True, max_requests=1)
    first = asyncio.ensure_future(served.client.post("/tts/", json={"text": "Short one.", "voice": "af_heart"}))
    opening = await served.fake.next_call()
    await call_and_leave(
        served.app,
        {"text": "Queued and gone.", "voice": "af_heart"},
        lambda: eventually(lambda: served.server.admission.queued == 1),
    )
    assert served.server.admission.queued == 0 and served.server.admission.backlog == len("Short one.")
    opening.release()
    await serve_until_done(served.fake, first)
    assert (await first).status_code == 200
    assert served.server.admission.requests == served.server.admission.backlog == 0


async def test_a_request_that_would_finish_too_late_is_refused_at_once_with_the_projected_wait(make_server):
    served = make_server(held=True, deadline_s=10.0, initial_rate=100.0)  # 1,000 characters of work
    first = asyncio.ensure_future(served.client.post("/tts/", json={"text": LONG_TEXT[:600], "voice": "af_heart"}))
    opening = await served.fake.next_call()
    refused = await served.client.post("/tts/", json={"text": LONG_TEXT[:600], "voice": "af_heart"})
    assert refused.status_code == 429 and "busy" in refused.json()["error"]
    assert refused.headers["Retry-After"] == "2"  # 200 characters over, at 100 per second
    assert served.fake.started == 1  # the refused request cost nothing
    opening.release()
    await serve_until_done(served.fake, first)
    assert (await first).status_code == 200


async def test_a_long_text_waits_its_turn_and_no_later_request_passes_it(make_server):
    served = make_server(held=True, max_requests=10, max_chars=1_000, deadline_s=600.0)  # each counts 500 at most
    post = served.client.post
    first = asyncio.ensure_future(post("/tts/", json={"text": LONG_TEXT[:400], "voice": "af_heart"}))
    opening = await served.fake.next_call()
    beside = asyncio.ensure_future(post("/tts/", json={"text": LONG_TEXT[:400], "voice": "af_heart"}))
    await eventually(lambda: served.server.admission.requests == 2)
    long = asyncio.ensure_future(post("/tts/", json={"text": LONG_TEXT[:900], "voice": "af_heart"}))
    await eventually(lambda: served.server.admission.queued == 1)  # 400 + 400 + 500 do not fit 1,000
    short = asyncio.ensure_future(post("/tts/", json={"text": "A short one.", "voice": "af_heart"}))
    await eventually(lambda: served.server.admission.queued == 2)  # it would fit beside the first two, yet waits
    assert served.server.admission.requests == 2
    opening.release()
    await serve_until_done(served.fake, first, beside, long, short)
    assert [(await reply).status_code for reply in (first, beside, long, short)] == [200] * 4


async def test_a_short_request_beside_a_text_longer_than_the_limit_is_answered_before_it(make_server):
    served = make_server(held=True, max_requests=10, max_chars=1_000, deadline_s=600.0)
    post = served.client.post
    long = asyncio.ensure_future(post("/tts/", json={"text": LONG_TEXT[:1_500], "voice": "af_heart"}))
    opening = await served.fake.next_call()
    short = asyncio.ensure_future(post("/tts/", json={"text": "A short one.", "voice": "af_heart"}))
    await eventually(lambda: served.server.admission.requests == 2)  # started beside it, not queued
    opening.release()
    await serve_until_done(served.fake, short)
    assert (await short).status_code == 200 and not long.done()
    await serve_until_done(served.fake, long)
    assert (await long).status_code == 200


async def test_invalid_requests_are_400_even_when_the_server_is_full(make_server):
    served = make_server(held=True, max_requests=1, max_queued=0)
    busy = asyncio.ensure_future(served.client.post("/tts/", json={"text": LONG_TEXT[:300], "voice": "af_heart"}))
    opening = await served.fake.next_call()
    assert (await served.client.get("/tts/health")).status_code == 200  # answered beside a held chunk
    valid = await served.client.post("/tts/", json={"text": "Hi.", "voice": "af_heart"})
    assert valid.status_code == 429
    for body, why in (
        ({"text": "Hi.", "voice": "xx_nobody"}, "not found"),
        ({"text": "word " * 2_001, "voice": "af_heart"}, "the limit is 10000"),
        ({"text": "こんにちは、世界。", "voice": "af_heart"}, "is Japanese"),
        ({"text": "...", "voice": "af_heart"}, "nothing to speak"),
    ):
        reply = await served.client.post("/tts/", json=body)
        assert reply.status_code == 400 and why in reply.json()["error"], reply.text
    served.app.state.server.health.status = _not_loaded
    unready = await served.client.post("/tts/", json={"text": "Hi.", "voice": "xx_nobody"})
    assert unready.status_code == 400  # decided before readiness too
    opening.release()
    await serve_until_done(served.fake, busy)
    assert (await busy).status_code == 200


async def _not_loaded():
    return None


async def test_a_voice_agents_next_sentences_go_to_the_later_lane(planner):
    """A context's run after its first continues audio already playing: it leaves the first lane
    to listeners who are waiting for their first audio."""
    first, later = FakeSynthesizer(), FakeSynthesizer()
    server = TTSServer(
        planner,
        [Lane(first, FairScheduler(1)), Lane(later, FairScheduler(1))],
        Admission(LIMITS),
        HealthMonitor([first, later], refresh_s=0.05, grace_s=0.5),
        ServingSettings().max_body_bytes,
    )
    request = TTSRequest(text=LONG_TEXT[:700], voice="af_heart", format="pcm", include_timestamps=False)
    async with server.rendering(request, sent_s=1.0) as rendered:
        count = len([chunk async for chunk in rendered])
    assert count > 2
    assert first.started == 0 and later.started == count


def let_go(served) -> bool:
    """Whether the server holds nothing for any request: no ticket, no text still to speak."""
    admission = served.server.admission
    return admission.requests == admission.backlog == admission.in_flight_chars == 0


@pytest.mark.parametrize(
    "route, body",
    [
        ("/tts/", {"text": LONG_TEXT[:300], "voice": "af_heart", "include_timestamps": True}),
        ("/tts/", {"text": LONG_TEXT[:300], "voice": "af_heart", "include_timestamps": False}),
        ("/tts/stream", {"text": LONG_TEXT[:300], "voice": "af_heart"}),
        ("/v1/audio/speech", {"model": "tts-1", "input": LONG_TEXT[:300], "voice": "alloy", "stream_format": "sse"}),
    ],
    ids=["json", "streamed-file", "ndjson", "openai-sse"],
)
async def test_a_complete_answer_lets_go_of_its_place(make_server, route, body):
    served = make_server()
    reply = await served.client.post(route, json=body)
    assert reply.status_code == 200 and served.fake.rendered > 1
    assert let_go(served)


@pytest.mark.parametrize("include_timestamps", [True, False])
async def test_a_fault_before_the_first_byte_lets_go_of_its_place(make_server, include_timestamps):
    served = make_server()
    served.fake.failures = {1: RuntimeError("the model exploded")}
    body = {"text": LONG_TEXT[:300], "voice": "af_heart", "include_timestamps": include_timestamps}
    reply = await served.client.post("/tts/", json=body)
    assert reply.status_code == 500
    assert let_go(served)


async def test_a_client_that_leaves_before_its_stream_starts_lets_go_of_its_place(make_server):
    served = make_server(held=True)
    body = {"text": LONG_TEXT, "voice": "af_heart", "include_timestamps": False}
    sent = await call_and_leave(served.app, body, served.fake.next_call)  # its first chunk is inside the model
    assert sent == [] and served.fake.started == 1
    assert let_go(served)


async def test_a_stream_made_as_its_client_left_is_never_sent_and_lets_go_of_its_place(make_server):
    served = make_server()
    leaving = asyncio.Event()
    made: list[ReleasingStream] = []

    async def made_as_the_client_leaves(rendered: RenderedChunks, request: TTSRequest, release: Release):
        leaving.set()
        with contextlib.suppress(asyncio.CancelledError):  # the cancel comes too late to stop it
            await asyncio.Event().wait()
        made.append(await stream_response(rendered, request, release))
        return made[-1]

    async def receive() -> dict:
        await leaving.wait()
        return {"type": "http.disconnect"}

    http_request = Request({"type": "http", "app": served.app}, receive)
    request = TTSRequest(text=LONG_TEXT[:300], voice="af_heart", include_timestamps=False)
    with pytest.raises(ClientLeft):
        await served.server.answer(http_request, request, made_as_the_client_leaves)
    assert len(made) == 1 and let_go(served)


async def test_a_socket_run_lets_go_of_its_place_however_its_block_ends(make_server):
    served = make_server()
    request = TTSRequest(text=LONG_TEXT[:300], voice="af_heart", format="pcm", include_timestamps=False)
    async with served.server.rendering(request) as rendered:
        assert [chunk async for chunk, _ in rendered]
    assert let_go(served)
    with pytest.raises(ConnectionResetError):
        async with served.server.rendering(request) as rendered:
            await anext(rendered)
            assert served.server.admission.requests == 1
            raise ConnectionResetError("the socket is gone")  # what the block sends to fails
    assert let_go(served)
