"""The official `openai` SDK, unchanged, against the live server: every format, a streamed file, SSE.

One short sentence per call keeps it fast; the length each answer should have comes from /tts/'s
own total_duration for the same text and voice (Kokoro's durations are deterministic)."""

import base64
import io
import json
import sys

import av
import numpy as np
import pytest
import requests
import soundfile
from openai import OpenAI

from tests.server.test_doc_examples import run

pytestmark = pytest.mark.server

TEXT = "Hello from Kokoro."
FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
#: seconds a codec may add or drop: encoder priming and the padding of its last frame
CODEC_SLACK_S = 0.1


@pytest.fixture(scope="module")
def client(server) -> OpenAI:
    return OpenAI(base_url=f"{server}/v1", api_key="anything")


@pytest.fixture(scope="module")
def expected_s(server) -> float:
    """How long af_alloy (OpenAI's alloy) says TEXT, from /tts/."""
    reply = requests.post(f"{server}/tts/", json={"text": TEXT, "voice": "af_alloy", "format": "pcm"}, timeout=120)
    return reply.json()["total_duration"]


def decoded(data: bytes, audio_format: str) -> tuple[np.ndarray, int]:
    """Float samples and their rate; pcm is read from its bytes, the rest with FFmpeg."""
    if audio_format == "pcm":
        return np.frombuffer(data, dtype="<i2") / 32768.0, 24_000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(stream)])
        rate = stream.codec_context.sample_rate
    return samples.astype(np.float64) / (32768.0 if samples.dtype.kind == "i" else 1.0), rate


@pytest.mark.parametrize("audio_format", FORMATS)
def test_every_format_is_speech_of_the_right_length(client, expected_s, audio_format):
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format=audio_format)
    samples, rate = decoded(audio.content, audio_format)
    assert rate == (48_000 if audio_format == "opus" else 24_000)  # Opus always decodes at 48 kHz
    assert len(samples) / rate == pytest.approx(expected_s, abs=CODEC_SLACK_S)
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence


def test_a_streamed_response_writes_a_playable_file(client, expected_s, tmp_path):
    path = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="nova", input=TEXT, response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        response.stream_to_file(path)
    samples, rate = soundfile.read(path)
    assert rate == 24_000 and len(samples) > 0.5 * expected_s * rate


def test_sse_events_join_to_the_audio_of_the_plain_answer(client):
    plain = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm").content
    events = client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="alloy", input=TEXT, response_format="pcm", stream_format="sse"
    ).content
    parsed = [json.loads(line.removeprefix(b"data: ")) for line in events.splitlines() if line.startswith(b"data: ")]
    *deltas, done = parsed
    assert {event["type"] for event in deltas} == {"speech.audio.delta"} and done["type"] == "speech.audio.done"
    joined = b"".join(base64.b64decode(event["audio"]) for event in deltas)
    assert len(joined) / 2 / 24_000 == pytest.approx(len(plain) / 2 / 24_000, abs=0.05)


def test_the_docs_sdk_example_runs_as_written(server, tmp_path):
    run("openai-sdk", [sys.executable], ".py", server, tmp_path)
    for name in ("hello.mp3", "streamed.wav"):
        with av.open(str(tmp_path / name)) as container:
            assert container.streams.audio[0].codec_context.sample_rate == 24_000
