"""Which pages may use the API: the server's own, those TTS_CORS_ORIGINS names, and clients that
are not browsers (no Origin); a page elsewhere on the network is refused, on HTTP and WebSocket."""

import pytest

from serving.cartesia.messages import PATH
from serving.core.config import ServingSettings
from serving.core.errors import POLICY_VIOLATION
from serving.core.origins import same_origin

from ..conftest import SocketClient

pytestmark = [pytest.mark.http, pytest.mark.anyio]

SPEAK = {"text": "Hello there.", "voice": "af_heart"}
#: the host the in-process client sends requests to (conftest's base_url)
HOST = "tts.test"
ELSEWHERE = "http://192.168.1.50:8000"


@pytest.mark.parametrize(
    ("allowed", "origin", "admitted"),
    [
        ((), None, True),  # curl, the SDKs, an agent: no Origin
        ((), f"http://{HOST}", True),  # the demo page, served by the server itself
        ((), ELSEWHERE, False),  # any other page on the LAN, by default
        ((), "null", False),  # a sandboxed page or a local file
        (("https://app.example",), "https://app.example", True),
        (("https://app.example",), ELSEWHERE, False),
        (("*",), ELSEWHERE, True),
    ],
)
async def test_a_page_of_another_origin_is_refused_unless_allowed(make_server, allowed, origin, admitted):
    served = make_server(settings=ServingSettings(cors_origins=allowed))
    headers = {} if origin is None else {"Origin": origin}
    for path in ("/tts/", "/tts/stream", "/v1/audio/speech"):
        body = SPEAK if path.startswith("/tts") else {"model": "tts-1", "input": "Hello.", "voice": "alloy"}
        reply = await served.client.post(path, json=body, headers=headers)
        assert (reply.status_code == 200) == admitted, (path, reply.status_code, reply.text)
        if not admitted:
            assert reply.status_code == 403
            error = reply.json()["error"]
            assert "cross-origin" in (error["message"] if path.startswith("/v1") else error)
    # a form post needs no preflight: the refusal must not rely on the browser asking first
    form = await served.client.post("/tts/", data=SPEAK, headers=headers)
    assert (form.status_code == 200) == admitted
    async with SocketClient(served.app, PATH, {"Host": HOST, **headers}) as socket:
        assert (socket.closed is None) == admitted
        if not admitted:
            assert socket.closed["code"] == POLICY_VIOLATION


async def test_by_default_no_cors_headers_are_sent(client):
    reply = await client.post("/tts/", json=SPEAK, headers={"Origin": f"http://{HOST}"})
    assert reply.status_code == 200 and "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://tts.local:5000", "tts.local:5000", True),
        ("https://TTS.example", "tts.example", True),
        ("http://tts.local:8080", "tts.local:5000", False),
        ("http://tts.local.evil.example", "tts.local", False),
        ("http://tts.local", "", False),
    ],
)
def test_same_origin(origin, host, same):
    assert same_origin(origin, host) == same
