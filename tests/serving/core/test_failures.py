"""Faults that reach a request: never silent. After the first byte, NDJSON and SSE end with an error
event and a streamed file is aborted (over a real socket, the client sees an incomplete body); a
chunk call that loses its connection is sent again; every answer carries its request id."""

import asyncio
import json
import socket
import threading

import aiohttp
import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY

from engine.audio import STREAM_ENCODERS

from ..conftest import WAIT_S

pytestmark = [pytest.mark.http, pytest.mark.anyio]

LONG = "First sentence here. " + "Then many more words follow in a longer second sentence, and so on. " * 6


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_fault_at_the_second_chunk_ends_ndjson_with_an_error_event(make_server):
    served = make_server()
    served.fake.failures = {2: RuntimeError("the model exploded")}
    failed_before = counted("tts_streams_failed_total", framing="ndjson")
    reply = await served.client.post("/tts/stream", json={"text": LONG, "voice": "af_heart"})
    assert reply.status_code == 200
    events = [json.loads(line) for line in reply.text.splitlines()]
    assert [event["type"] for event in events] == ["chunk", "error"]  # no "done": the audio is cut
    assert reply.headers["x-request-id"] in events[-1]["error"] and "after 1 chunks" in events[-1]["error"]
    assert counted("tts_streams_failed_total", framing="ndjson") == failed_before + 1
    assert served.server.admission.requests == served.server.admission.backlog == 0


async def test_a_fault_at_the_second_chunk_ends_openais_sse_with_an_error_event(make_server):
    served = make_server()
    served.fake.failures = {2: RuntimeError("the model exploded")}
    body = {"model": "tts-1", "input": LONG, "voice": "alloy", "stream_format": "sse"}
    reply = await served.client.post("/v1/audio/speech", json=body)
    assert reply.status_code == 200
    blocks = reply.text.strip().split("\n\n")
    assert json.loads(blocks[0].removeprefix("data: "))["type"] == "speech.audio.delta"
    event, data = blocks[-1].split("\n")
    assert event == "event: error"
    error = json.loads(data.removeprefix("data: "))
    assert error["type"] == "error" and error["error"]["type"] == "server_error"
    assert "incomplete" in error["error"]["message"]
    assert not any("speech.audio.done" in block for block in blocks)


@pytest.fixture
async def live(make_server):
    """The app served by uvicorn on a socket of this machine, in this event loop."""
    served = make_server()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(served.app, log_level="critical", lifespan="off"))
    serving = asyncio.ensure_future(server.serve(sockets=[listening]))
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listening.getsockname()[1]}", timeout=WAIT_S) as client:
        yield served, client
    server.should_exit = True
    await serving


@pytest.mark.parametrize("audio_format", ["wav", "mp3"])
async def test_a_fault_at_the_second_chunk_aborts_a_streamed_file(live, audio_format):
    served, client = live
    served.fake.failures = {2: RuntimeError("the model exploded")}
    failed_before = counted("tts_streams_failed_total", framing="audio")
    body = {"text": LONG, "voice": "af_heart", "format": audio_format, "include_timestamps": False}
    received = b""
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete"):
        async with client.stream("POST", "/tts/", json=body) as reply:
            assert reply.status_code == 200
            async for piece in reply.aiter_bytes():
                received += piece
    assert received  # the first chunk's audio arrived; the body then ended without its last chunk
    assert counted("tts_streams_failed_total", framing="audio") == failed_before + 1
    assert served.server.admission.requests == 0


async def test_a_chunk_call_that_loses_its_connection_is_sent_again(make_server):
    served = make_server()
    retried_before = counted("tts_synthesizer_retries_total")
    served.fake.failures = {1: aiohttp.ClientOSError(32, "Broken pipe"), 3: aiohttp.ServerDisconnectedError()}
    reply = await served.client.post("/tts/", json={"text": LONG, "voice": "af_heart"})
    assert reply.status_code == 200
    assert counted("tts_synthesizer_retries_total") == retried_before + 2


async def test_a_connection_that_keeps_failing_is_a_visible_failure(make_server):
    served = make_server()
    served.fake.failure = aiohttp.ClientOSError(32, "Broken pipe")
    reply = await served.client.post("/tts/", json={"text": "Hello there.", "voice": "af_heart"})
    assert reply.status_code == 500 and "server log" in reply.json()["error"]
    assert served.fake.started == 3  # the first try and two more


async def test_every_answer_carries_a_request_id_the_clients_own_when_sane(client):
    generated = await client.get("/tts/voices")
    assert len(generated.headers["x-request-id"]) == 32
    own = await client.post("/tts/", json={"text": "", "voice": "af_heart"}, headers={"X-Request-ID": "job-42.a"})
    assert own.status_code == 400 and own.headers["x-request-id"] == "job-42.a"
    crafted = await client.get("/tts/voices", headers={"X-Request-ID": "x" * 200})
    assert crafted.headers["x-request-id"] != "x" * 200


async def test_a_voice_with_spaces_around_it_is_that_voice_and_its_header_is_clean(client):
    reply = await client.post("/tts/", json={"text": "Hi there.", "voice": " af_heart\n", "include_timestamps": False})
    assert reply.status_code == 200 and reply.headers["X-Voice"] == "af_heart"


async def test_whitespace_is_the_seeds_string_and_rebuilds_the_text(client):
    text = "Hello there, world."
    words = (await client.post("/tts/", json={"text": text, "voice": "af_heart"})).json()["word_timestamps"]
    assert [w["whitespace"] for w in words] == [" ", "", " ", "", ""]
    assert "".join(w["word"] + w["whitespace"] for w in words) == text


async def test_a_client_gone_while_sending_its_body_is_a_499(make_server):
    served = make_server()
    before = counted("tts_requests_total", route="/tts/", status="499")
    messages = [{"type": "http.request", "body": b'{"text": "Hel', "more_body": True}, {"type": "http.disconnect"}]
    sent = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/tts/", "raw_path": b"/tts/", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 1), "server": ("tts.test", 80),
    }  # fmt: skip
    await served.app(scope, receive, send)
    assert sent[0]["status"] == 499
    assert counted("tts_requests_total", route="/tts/", status="499") == before + 1


async def test_encoding_and_json_run_off_the_event_loop(make_server, monkeypatch):
    loop_thread = threading.current_thread()
    encoded_on = []
    base = STREAM_ENCODERS["pcm"]

    class Recording(base):
        def encode(self, pcm16):
            encoded_on.append(threading.current_thread())
            return super().encode(pcm16)

    monkeypatch.setitem(STREAM_ENCODERS, "pcm", Recording)
    served = make_server()
    for path, body in (
        ("/tts/", {"text": LONG, "voice": "af_heart", "format": "pcm"}),
        ("/tts/stream", {"text": LONG, "voice": "af_heart", "format": "pcm"}),
        ("/tts/", {"text": LONG, "voice": "af_heart", "format": "pcm", "include_timestamps": False}),
    ):
        assert (await served.client.post(path, json=body)).status_code == 200
    assert len(encoded_on) >= 3 and loop_thread not in encoded_on
