"""The OpenAI-compatible routes in-process: formats, voice and speed mapping, SSE framing, and every
error in OpenAI's shape with its status."""

import asyncio
import base64
import json

import openai
import pytest

from serving.core.config import ServingSettings
from serving.openai.messages import MODELS, OPENAI_VOICES, kokoro_speed

from ..conftest import serve_until_done

pytestmark = [pytest.mark.http, pytest.mark.anyio]

SPEECH = {"model": "tts-1", "input": "Hello there. This is a second sentence.", "voice": "alloy"}
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "application/octet-stream",
}


def assert_openai_error(reply, status: int, param: str | None = None) -> dict:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param
    return error


def sse_events(body: bytes) -> list[dict]:
    """Parses a text/event-stream body: every event is one `data:` line and a blank line."""
    frames = body.decode().split("\n\n")
    assert frames[-1] == ""
    events = []
    for frame in frames[:-1]:
        (line,) = frame.split("\n")
        assert line.startswith("data: ")
        events.append(json.loads(line.removeprefix("data: ")))
    return events


@pytest.mark.parametrize("response_format", list(MEDIA_TYPES))
async def test_every_response_format_streams_with_its_content_type(client, response_format):
    reply = await client.post("/v1/audio/speech", json={**SPEECH, "response_format": response_format})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == MEDIA_TYPES[response_format]
    assert len(reply.content) > 100


async def test_mp3_is_the_default(client):
    reply = await client.post("/v1/audio/speech", json=SPEECH)
    assert reply.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize(
    ("voice", "kokoro"),
    [
        *OPENAI_VOICES.items(),
        ("af_bella", "af_bella"),
        ("af_bella,af_sky", "af_bella,af_sky"),
        ("af_bella(2) + af_sky", "af_bella(2)+af_sky"),
        ({"id": "bm_lewis"}, "bm_lewis"),
    ],
)
async def test_openai_voices_map_to_kokoro_and_kokoro_voices_pass(client, voice, kokoro):
    reply = await client.post("/v1/audio/speech", json={**SPEECH, "voice": voice, "response_format": "pcm"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Voice"] == kokoro


async def test_every_mapped_voice_is_a_stock_voice(client):
    names = set((await client.get("/tts/voices")).json()["voices"])
    assert set(OPENAI_VOICES.values()) <= names


@pytest.mark.parametrize(("openai_speed", "kokoro"), [(0.25, 0.25), (1.0, 1.0), (2.5, 2.5), (3.0, 3.0), (4.0, 3.0)])
async def test_speed_passes_as_is_and_is_capped_at_kokoros_3(client, openai_speed, kokoro):
    assert kokoro_speed(openai_speed) == kokoro
    reply = await client.post("/v1/audio/speech", json={**SPEECH, "speed": openai_speed, "response_format": "pcm"})
    assert reply.status_code == 200 and float(reply.headers["X-Speed"]) == kokoro


@pytest.mark.parametrize("speed", [0.2, 4.5, "fast"])
async def test_speed_outside_openais_range_is_a_400_naming_it(client, speed):
    assert_openai_error(await client.post("/v1/audio/speech", json={**SPEECH, "speed": speed}), 400, "speed")


@pytest.mark.parametrize("model", MODELS)
async def test_every_listed_model_is_accepted(client, model):
    reply = await client.post("/v1/audio/speech", json={**SPEECH, "model": model, "response_format": "pcm"})
    assert reply.status_code == 200


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({**SPEECH, "model": "whisper-1"}, "model", "unknown model"),
        ({k: v for k, v in SPEECH.items() if k != "input"}, "input", "'input' is required"),
        ({**SPEECH, "input": ""}, "input", "'input'"),
        ({**SPEECH, "response_format": "ogg"}, "response_format", "'response_format'"),
        ({**SPEECH, "stream_format": "chunks"}, "stream_format", "'stream_format'"),
        ({**SPEECH, "voice": "xx_nobody"}, None, "Voice 'xx_nobody' not found"),
        ({**SPEECH, "voice": "af_heart," * 100}, "voice", "at most 200 characters"),
        ({**SPEECH, "voice": {"id": "af_heart(\u0662)"}}, "voice", "ASCII"),
        ({**SPEECH, "input": 'Hi <break time="soon"/>'}, None, '<break time="soon"/>'),
    ],
)
async def test_bad_requests_are_400s_in_openais_shape(client, body, param, needle):
    error = assert_openai_error(await client.post("/v1/audio/speech", json=body), 400, param)
    assert error["type"] == "invalid_request_error" and needle in error["message"]


async def test_malformed_json_and_an_oversized_body(client):
    broken = await client.post("/v1/audio/speech", content=b"{bad", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_openai_error(broken, 400)["message"]
    huge = await client.post("/v1/audio/speech", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert assert_openai_error(huge, 413)["code"] == "request_too_large"


async def test_a_key_is_checked_as_bearer_and_refused_in_openais_shape(make_server):
    client = make_server(settings=ServingSettings(api_key="sekret")).client
    refused = await client.post("/v1/audio/speech", json=SPEECH)
    assert assert_openai_error(refused, 401)["code"] == "invalid_api_key"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    allowed = await client.get("/v1/models", headers={"Authorization": "Bearer sekret"})
    assert allowed.status_code == 200


async def test_a_full_server_is_a_429_with_retry_after(make_server):
    served = make_server(held=True, max_requests=1, max_queued=0)
    first = asyncio.create_task(served.client.post("/v1/audio/speech", json=SPEECH))
    opening = await served.fake.next_call()
    refused = await served.client.post("/v1/audio/speech", json=SPEECH)
    error = assert_openai_error(refused, 429)
    assert error["code"] == "rate_limit_exceeded" and int(refused.headers["Retry-After"]) >= 1
    opening.release()
    await serve_until_done(served.fake, first)
    assert (await first).status_code == 200


async def test_a_server_without_its_model_is_a_503_with_retry_after(make_server):
    served = make_server()
    served.app.state.server = None
    reply = await served.client.post("/v1/audio/speech", json=SPEECH)
    assert assert_openai_error(reply, 503)["type"] == "server_error"
    assert int(reply.headers["Retry-After"]) >= 1


async def test_faults_are_openai_shaped_500s_and_a_synthesizer_overload_a_503(make_server):
    served = make_server()

    class Overloaded(Exception):
        error_code = 503

    served.fake.failure = Overloaded("batch waited past max_latency_ms")
    overloaded = await served.client.post("/v1/audio/speech", json=SPEECH)
    assert_openai_error(overloaded, 503)
    assert "Retry-After" in overloaded.headers
    served.fake.failure = RuntimeError("model exploded")
    fault = assert_openai_error(await served.client.post("/v1/audio/speech", json=SPEECH), 500)
    assert fault["type"] == "server_error" and "server log" in fault["message"]


async def test_an_unknown_v1_route_is_a_404_in_openais_shape(client):
    assert_openai_error(await client.get("/v1/chat/completions"), 404)


@pytest.mark.parametrize("response_format", ["pcm", "wav", "mp3"])
async def test_sse_carries_base64_deltas_then_one_done(client, response_format):
    body = {**SPEECH, "response_format": response_format, "stream_format": "sse"}
    reply = await client.post("/v1/audio/speech", json=body)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = sse_events(reply.content)
    *deltas, done = events
    assert deltas and all(event["type"] == "speech.audio.delta" for event in deltas)
    assert done["type"] == "speech.audio.done"
    assert done["usage"]["input_tokens"] == len(SPEECH["input"]) == done["usage"]["total_tokens"]
    joined = b"".join(base64.b64decode(event["audio"]) for event in deltas)
    streamed = await client.post("/v1/audio/speech", json={**body, "stream_format": "audio"})
    if response_format != "mp3":  # lossless: the same bytes as the audio stream
        assert joined == streamed.content


async def test_sse_audio_lasts_as_long_as_tts_says(client):
    events = sse_events(
        (
            await client.post("/v1/audio/speech", json={**SPEECH, "response_format": "pcm", "stream_format": "sse"})
        ).content
    )
    pcm = b"".join(base64.b64decode(event["audio"]) for event in events[:-1])
    timed = (await client.post("/tts/", json={"text": SPEECH["input"], "voice": "af_alloy"})).json()
    assert len(pcm) / 2 / 24_000 == pytest.approx(timed["total_duration"], abs=0.001)


async def test_models_and_voices_lists_in_openais_shape(client):
    models = (await client.get("/v1/models")).json()
    assert models["object"] == "list"
    assert [model["id"] for model in models["data"]] == list(MODELS)
    assert all(model["object"] == "model" for model in models["data"])
    voices = (await client.get("/v1/audio/voices")).json()
    by_id = {voice["id"]: voice["kokoro_voice"] for voice in voices["data"]}
    assert by_id["alloy"] == "af_alloy" and by_id["af_heart"] == "af_heart"


async def test_openapi_documents_the_v1_routes(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/audio/speech", "/v1/models", "/v1/audio/voices"} <= set(paths)
    assert (
        "input"
        in paths["/v1/audio/speech"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )


async def test_the_openai_sdk_speaks_to_the_routes_in_process(make_server):
    """The live test (tests/server/test_openai_sdk.py) checks the speech; this, the SDK's parsing."""
    served = make_server()
    sdk = openai.AsyncOpenAI(
        base_url="http://tts.test/v1", api_key="anything", http_client=served.client, max_retries=0
    )
    audio = await sdk.audio.speech.create(model="tts-1", voice="alloy", input=SPEECH["input"], response_format="pcm")
    assert len(audio.content) > 0
    assert [model.id for model in (await sdk.models.list()).data] == list(MODELS)
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.audio.speech.create(model="whisper-1", voice="alloy", input="Hi")
    assert refused.value.param == "model" and "unknown model" in refused.value.message
