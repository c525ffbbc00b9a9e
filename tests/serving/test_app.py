"""The HTTP contract in-process: every error path is a 4xx JSON, access control, OpenAPI, metrics."""

import asyncio
import base64
import io
import json

import httpx
import pytest
import soundfile
from prometheus_client import REGISTRY

from schemas import TTSResponse
from serving.core.config import ServingSettings
from tests.serving.conftest import WAIT_S

pytestmark = [pytest.mark.http, pytest.mark.anyio]

SPEAK = {"text": "Hello there.", "voice": "af_heart"}


def responses_counted(route: str, status: int) -> float:
    return REGISTRY.get_sample_value("tts_requests_total", {"route": route, "status": str(status)}) or 0.0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"voice": "af_heart"}, "'text' is required"),
        ({"text": "", "voice": "af_heart"}, "'text'"),
        ({"text": "   ", "voice": "af_heart"}, "nothing to speak"),
        ({"text": "Hi", "voice": "xx_unknown"}, "Voice 'xx_unknown' not found. Available voices: ['af_alloy'"),
        ({"text": "Hi", "voice": "../voices/af_heart"}, "not found"),
        ({"text": "Hi", "voice": "af_heart(0)+af_bella"}, "weight is a number above 0"),
        ({"text": "Hi", "voice": "af_heart+af_nope"}, "Voice 'af_nope' not found"),
        ({"text": "Hi", "voice": "af_heart", "speed": 0}, "'speed'"),
        ({"text": "Hi", "voice": "af_heart", "speed": 3.5}, "'speed'"),
        ({"text": "Hi", "voice": "af_heart", "speed": "fast"}, "'speed'"),
        ({"text": "Hi", "voice": "af_heart", "format": "ogg"}, "'format'"),
        ({"text": "Hi", "voice": "af_heart", "lang": "klingon"}, "unknown lang"),
        ({"text": "x" * 10_001, "voice": "af_heart"}, "limit is 10000"),
        ({"text": "Hi", "voice": "af_heart", "include_timestamps": "maybe"}, "'include_timestamps'"),
        ({"text": "Hi", "voice": " " * 60_000}, "'voice': String should have at most 200 characters"),
        ({"text": "Hi", "voice": "af_heart(\u0662)", "include_timestamps": False}, "'voice'"),
        ({"text": "Hi", "voice": "af_heart(1e3)"}, "weight is a number above 0"),
        ({"text": 'Hi <break time="1.2.3s"/> there', "voice": "af_heart"}, '<break time="1.2.3s"/>'),
        ({"text": "Hi <break strength='loud'/> there", "voice": "af_heart"}, '<break strength="loud"/>'),
        ({"text": "Hi" + '<break time="5s"/>' * 7, "voice": "af_heart"}, "the <break/> tags add up to 35 s"),
        ({"text": "&#" + "1" * 5_000 + ";", "voice": "af_heart"}, "nothing to speak"),
    ],
)
async def test_invalid_fields_are_400s_that_name_the_problem(client, body, needle):
    reply = await client.post("/tts/", json=body)
    assert reply.status_code == 400
    assert needle in reply.json()["error"]


@pytest.mark.parametrize(
    ("content", "content_type", "needle"),
    [
        (b"{bad json", "application/json", "not valid JSON"),
        (b'["a list"]', "application/json", "must be an object"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "recursion limit"),
        (b'{"text": "Hi", "voice": "af_heart", "speed": ' + b"1" * 5_000 + b"}", "application/json", "number"),
        (b'{"text": "\xff\xfe", "voice": "af_heart"}', "application/json", "not valid JSON"),
        (b"text=Hi&voice=af_heart", "text/plain", "unsupported Content-Type"),
        (b"", "", "unsupported Content-Type"),
        (b"text=%FF%FE&voice=af_heart&include_timestamps=false", "application/x-www-form-urlencoded", ""),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x", ""),
        ("text=Hi&voice=af_heart(\u0662)".encode(), "application/x-www-form-urlencoded", "'voice'"),
        (b"text=Hi&voice=" + b"+" * 10_000, "application/x-www-form-urlencoded", "'voice'"),
    ],
)
async def test_odd_bodies_get_4xx_json_never_a_500(client, content, content_type, needle):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = await client.post("/tts/", content=content, headers=headers)
    assert 200 <= reply.status_code < 500, reply.text
    if reply.status_code != 200:
        assert needle in reply.json()["error"]


async def test_a_body_over_the_limit_is_a_413(client):
    reply = await client.post("/tts/", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "TTS_MAX_BODY_BYTES" in reply.json()["error"]


async def test_a_chunked_body_over_the_limit_is_a_413_too(client):
    async def pieces():
        for _ in range(40):
            yield b"x" * 65_536

    reply = await client.post("/tts/", content=pieces(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


@pytest.mark.parametrize("audio_format", ["wav", "mp3", "aac"])
async def test_json_and_form_bodies_speak_every_format(client, audio_format):
    reply = await client.post("/tts/", json={**SPEAK, "format": audio_format})
    assert reply.status_code == 200
    body = TTSResponse.model_validate(reply.json())
    assert body.audio_format == audio_format and body.word_timestamps
    form = await client.post("/tts/", data={**SPEAK, "format": audio_format, "include_timestamps": "no"})
    assert form.status_code == 200 and len(form.content) > 100, form.text


async def test_json_audio_length_matches_its_timestamps(client):
    body = (await client.post("/tts/", json={"text": "One. Two, three! " * 30, "voice": "af_heart"})).json()
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])))
    assert rate == 24_000
    assert len(samples) / rate == pytest.approx(body["total_duration"], abs=0.001)
    starts = [w["start_time"] for w in body["word_timestamps"]]
    assert starts == sorted(starts) and body["word_timestamps"][-1]["end_time"] <= body["total_duration"]


async def test_timestamps_keep_the_users_words_where_other_words_are_said(client):
    text = "<p>It was -5°C</p> at [Kokoro](/kˈOkəɹO/)'s door; call 555-0123."
    body = (await client.post("/tts/", json={"text": text, "voice": "af_heart"})).json()
    words = {w["word"]: w["phonemes"] for w in body["word_timestamps"]}
    assert "<p>" not in words and "p" not in words
    assert words["-5°C"] == "mˈInəs fˈIv dəɡɹˈiz sˈɛlsiəs"
    assert words["Kokoro"] == "kˈOkəɹO"
    assert words["555-0123"].startswith("fˈIv fˈIv fˈIv, zˈɪɹO")


async def test_an_ssml_break_is_silence_of_its_length_in_the_audio_and_the_timestamps(client):
    plain = (await client.post("/tts/", json={"text": "One two. Three four.", "voice": "af_heart"})).json()
    paused = 'One two. <break time="1200ms"/> Three four.'
    body = (await client.post("/tts/", json={"text": paused, "voice": "af_heart"})).json()
    assert body["total_duration"] == pytest.approx(plain["total_duration"] + 1.2, abs=0.05)
    words = {w["word"]: w for w in body["word_timestamps"]}
    assert words["Three"]["start_time"] - words["two"]["end_time"] >= 1.2
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])), dtype="int16")
    gap = samples[int(words["two"]["end_time"] * rate) + 2400 : int(words["Three"]["start_time"] * rate) - 2400]
    assert len(gap) > rate // 2 and not gap.any()


async def test_a_stream_carries_the_seed_headers(client):
    reply = await client.post("/tts/", json={**SPEAK, "format": "mp3", "include_timestamps": False})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "audio/mpeg"
    assert reply.headers["x-voice"] == "af_heart" and reply.headers["x-text-length"] == str(len(SPEAK["text"]))
    assert reply.headers["x-include-timestamps"] == "false"


async def test_voices_info_health_and_slashless_route(client):
    voices = (await client.get("/tts/voices")).json()
    assert voices["count"] == len(voices["voices"]) == 54
    assert "POST /tts/" in (await client.get("/tts")).json()["endpoints"]
    health = await client.get("/tts/health")
    assert health.status_code == 200 and health.json()["device"] == "fake"
    assert (await client.post("/tts", json=SPEAK)).status_code == 200


async def test_unknown_routes_and_methods_answer_json(client):
    assert (await client.get("/tts/nothing-here")).json()["error"].startswith("no route")
    wrong = await client.delete("/tts/voices")
    assert wrong.status_code in (404, 405) and "error" in wrong.json()


async def test_health_turns_unhealthy_when_the_synthesizer_fails_and_back(make_server):
    served = make_server()
    client, fake = served.client, served.fake
    assert (await client.get("/tts/health")).status_code == 200
    fake.status_failure = ConnectionRefusedError("synthesizer gone")
    reply = await health_once_it_is(client, 503)
    assert reply.json()["status"] == "unhealthy"
    refused = await client.post("/tts/", json=SPEAK)
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    fake.status_failure = None
    assert (await health_once_it_is(client, 200)).json()["status"] == "healthy"


async def health_once_it_is(client, status: int) -> httpx.Response:
    """GET /tts/health once it answers `status`: the monitor looks again in the background, so
    the answer changes a look after the synthesizer did (WAIT_S bounds a defect, not the time)."""
    async with asyncio.timeout(WAIT_S):
        while (reply := await client.get("/tts/health")).status_code != status:
            await asyncio.sleep(0.01)
    return reply


async def test_a_synthesizer_fault_is_a_json_500_and_an_overload_a_503(make_server):
    served = make_server()
    client, fake = served.client, served.fake

    class Overloaded(Exception):
        error_code = 503

    fake.failure = Overloaded("batch waited past max_latency_ms")
    overloaded = await client.post("/tts/", json=SPEAK)
    assert overloaded.status_code == 503 and "Retry-After" in overloaded.headers
    fake.failure = RuntimeError("model exploded")
    fault = await client.post("/tts/", json=SPEAK)
    assert fault.status_code == 500 and "server log" in fault.json()["error"]


async def test_every_status_is_counted(client):
    before = {status: responses_counted("/tts/", status) for status in (200, 400, 413)}
    await client.post("/tts/", json=SPEAK)
    await client.post("/tts/", json={"text": "Hi"})
    await client.post("/tts/", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    for status in (200, 400, 413):
        assert responses_counted("/tts/", status) == before[status] + 1, status


async def test_cors_preflight_from_an_allowed_origin(make_server):
    client = make_server(settings=ServingSettings(cors_origins=("https://app.example",))).client
    headers = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    allowed = await client.options("/tts/", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = await client.options("/tts/", headers={**headers, "Origin": "https://evil.example"})
    assert refused.headers.get("access-control-allow-origin") != "https://evil.example"
    reply = await client.post("/tts/", json=SPEAK, headers={"Origin": "https://app.example"})
    assert reply.headers["access-control-allow-origin"] == "https://app.example"


async def test_api_key_guards_every_route_but_health(make_server):
    client = make_server(settings=ServingSettings(api_key="s3cret")).client
    missing = await client.post("/tts/", json=SPEAK)
    assert missing.status_code == 401 and "Bearer" in missing.json()["error"]
    assert (await client.get("/tts/voices", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await client.get("/tts/health")).status_code == 200
    spoken = await client.post("/tts/", json=SPEAK, headers={"Authorization": "Bearer s3cret"})
    assert spoken.status_code == 200 and spoken.json()["word_timestamps"]


async def test_openapi_documents_the_bodies_and_every_answer(client):
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/tts/"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert "text" in post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"200", "400", "401", "413", "429", "503"} <= set(post["responses"])
    assert {"application/json", "audio/wav", "audio/mpeg", "audio/aac"} <= set(post["responses"]["200"]["content"])
    text = json.dumps(spec)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref


async def test_the_api_reports_the_project_s_version(client):
    """The images are tagged with pyproject.toml's version (deploy/image/build.sh), and the API
    reports the same, read from the same file."""
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert (await client.get("/tts/")).json()["version"] == version
    assert (await client.get("/openapi.json")).json()["info"]["version"] == version
