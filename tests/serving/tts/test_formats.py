"""All six formats on /tts/, in JSON and streamed: the right Content-Type, and audio as long as the
timestamps say (the fake synthesizer renders silence of a known length); and /tts/stream's NDJSON
events, whose audio joins into the same file and whose words run on across chunks."""

import base64
import io
import itertools
import json

import av
import numpy as np
import pytest
import soundfile

from schemas import TTSResponse

pytestmark = [pytest.mark.http, pytest.mark.anyio]

SPEAK = {"text": "Hello there. This is a second sentence.", "voice": "af_heart"}
MEDIA_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "pcm": "application/octet-stream",
}
#: seconds a codec may add or drop: encoder priming and the padding of its last frame
CODEC_SLACK_S = 0.1


def duration_s(data: bytes, audio_format: str) -> float:
    if audio_format == "pcm":
        return len(data) / 2 / 24_000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        rate = stream.codec_context.sample_rate
    assert rate == (48_000 if audio_format == "opus" else 24_000)
    return sum(frame.samples for frame in frames) / rate


@pytest.mark.parametrize("audio_format", list(MEDIA_TYPES))
async def test_json_names_the_format_and_its_audio_lasts_total_duration(client, audio_format):
    reply = await client.post("/tts/", json={**SPEAK, "format": audio_format})
    assert reply.status_code == 200, reply.text
    body = TTSResponse.model_validate(reply.json())
    assert body.audio_format == audio_format
    audio = base64.b64decode(body.audio)
    assert duration_s(audio, audio_format) == pytest.approx(body.total_duration, abs=CODEC_SLACK_S)


@pytest.mark.parametrize("audio_format", list(MEDIA_TYPES))
async def test_streamed_formats_carry_their_content_type_and_length(client, audio_format):
    timed = (await client.post("/tts/", json={**SPEAK, "format": "pcm"})).json()
    reply = await client.post("/tts/", json={**SPEAK, "format": audio_format, "include_timestamps": False})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == MEDIA_TYPES[audio_format]
    assert duration_s(reply.content, audio_format) == pytest.approx(timed["total_duration"], abs=CODEC_SLACK_S)


async def test_streamed_pcm_is_the_json_pcm_byte_for_byte(client):
    timed = (await client.post("/tts/", json={**SPEAK, "format": "pcm"})).json()
    streamed = await client.post("/tts/", data={**SPEAK, "format": "pcm", "include_timestamps": "false"})
    assert streamed.content == base64.b64decode(timed["audio"])
    assert np.frombuffer(streamed.content, dtype="<i2").shape[0] == round(timed["total_duration"] * 24_000)


async def test_openapi_lists_every_streamed_content_type(client):
    spec = (await client.get("/openapi.json")).json()
    assert set(MEDIA_TYPES.values()) <= set(spec["paths"]["/tts/"]["post"]["responses"]["200"]["content"])


async def test_an_unknown_format_names_the_six(client):
    reply = await client.post("/tts/", json={**SPEAK, "format": "ogg"})
    assert reply.status_code == 400
    assert all(name in reply.json()["error"] for name in MEDIA_TYPES)


LONG = {"text": "One. Two, three! Four and five, six. " * 40, "voice": "af_heart"}


def ndjson_events(body: bytes) -> list[dict]:
    lines = body.split(b"\n")
    assert lines[-1] == b""
    return [json.loads(line) for line in lines[:-1]]


async def test_tts_stream_sends_each_chunk_with_its_words_then_done(client):
    timed = (await client.post("/tts/", json={**LONG, "format": "pcm"})).json()
    reply = await client.post("/tts/stream", json={**LONG, "format": "pcm"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/x-ndjson"
    *chunks, done = ndjson_events(reply.content)
    assert len(chunks) > 1 and {event["type"] for event in chunks} == {"chunk"} and done["type"] == "done"
    words = [word for event in chunks for word in event["words"]]
    starts = [word["start_time"] for word in words]
    assert starts == sorted(starts)  # times run on across chunks, from the start of the whole audio
    for before, after in itertools.pairwise(chunks):
        assert before["words"][-1]["end_time"] <= after["words"][0]["start_time"]
    # the stream's first sentence comes in two windows, the whole answer's at once: the same audio
    assert words == timed["word_timestamps"]
    pcm = b"".join(base64.b64decode(event["audio"]) for event in [*chunks, done])
    assert len(pcm) / 2 / 24_000 == pytest.approx(timed["total_duration"], abs=0.001)
    assert done["total_duration"] == timed["total_duration"]


async def test_tts_stream_wav_starts_with_the_header_and_joins_into_one_file(client):
    reply = await client.post("/tts/stream", data={**LONG, "format": "wav", "include_timestamps": "true"})
    events = ndjson_events(reply.content)
    audio = [base64.b64decode(event["audio"]) for event in events]
    assert audio[0].startswith(b"RIFF") and not any(piece.startswith(b"RIFF") for piece in audio[1:])
    samples, rate = soundfile.read(io.BytesIO(b"".join(audio)))
    assert rate == 24_000 and len(samples) / rate == pytest.approx(events[-1]["total_duration"], abs=0.001)


async def test_tts_stream_compressed_audio_joins_into_one_file(client):
    events = ndjson_events((await client.post("/tts/stream", json={**LONG, "format": "mp3"})).content)
    audio = b"".join(base64.b64decode(event["audio"]) for event in events)
    assert duration_s(audio, "mp3") == pytest.approx(events[-1]["total_duration"], abs=CODEC_SLACK_S)


async def test_tts_stream_errors_are_the_apps_json(client):
    reply = await client.post("/tts/stream", json={"text": "Hi", "voice": "xx_unknown"})
    assert reply.status_code == 400 and "Voice 'xx_unknown' not found" in reply.json()["error"]
