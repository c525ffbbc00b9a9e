"""Every example in README.md and docs/ that runs, run as written against the live server (only
its address changed), and what it prints and writes checked. tests/test_docs.py checks that each
example is run by a test here (or checked there)."""

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import av
import pytest
import soundfile
import webvtt

from schemas import TTSResponse, WordTimestamp
from tests.doc_examples import example, output

pytestmark = pytest.mark.server

#: the server's address in every example
DOCUMENTED_ADDRESS = "localhost:5000"


def as_written(name: str, base: str) -> str:
    """The example `name` pointed at the server at `base` (its http:// and ws:// addresses alike)."""
    return example(name).replace(DOCUMENTED_ADDRESS, urlsplit(base).netloc)


def run(name: str, command: list[str], suffix: str, base: str, cwd: Path) -> str:
    script = cwd / f"{name}{suffix}"
    script.write_text(as_written(name, base))
    done = subprocess.run([*command, str(script)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def audio_seconds(path: Path) -> tuple[float, int, str]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / rate, rate, container.format.name


def test_curl_json_with_jq(server, tmp_path):
    if not shutil.which("jq"):
        pytest.fail("jq is needed for the README's example: apt-get install jq")
    out = run("curl-json", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [word for *_, word in lines if word.isalpha()] == ["Hello", "world", "This", "is", "Kokoro", "speaking"]
    samples, rate = soundfile.read(tmp_path / "hello.wav")
    assert rate == 24_000
    assert 1.5 < len(samples) / rate < 6
    assert float(lines[-1][1]) <= len(samples) / rate


def test_curl_captions_writes_the_speech_as_webvtt(server, tmp_path):
    out = run("curl-captions", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    assert out.startswith("WEBVTT")
    captions = webvtt.read(str(tmp_path / "hello.vtt")).captions
    assert " ".join(caption.text for caption in captions) == "Hello world! This is Kokoro speaking."
    samples, rate = soundfile.read(tmp_path / "hello.wav")
    hours, minutes, seconds = captions[-1].end.split(":")
    assert int(hours) * 3600 + int(minutes) * 60 + float(seconds) <= len(samples) / rate


def test_curl_stream_to_file(server, tmp_path):
    run("curl-stream", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    seconds, rate, container = audio_seconds(tmp_path / "stream.mp3")
    assert (rate, container) == (24_000, "mp3")
    assert 3 < seconds < 10


def test_curl_form_data(server, tmp_path):
    run("curl-form", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    seconds, rate, container = audio_seconds(tmp_path / "form.wav")
    assert (rate, container) == (24_000, "wav")
    assert 0.8 < seconds < 4


def test_python_requests(server, tmp_path):
    out = run("python-requests", [sys.executable], ".py", server, tmp_path)
    words = [line.split()[-1] for line in out.strip().splitlines()]
    assert [w for w in words if w.isalpha()] == ["Highlight", "each", "word", "as", "it", "is", "spoken"]
    for name in ("words.wav", "streamed.wav"):
        samples, rate = soundfile.read(io.BytesIO((tmp_path / name).read_bytes()))
        assert rate == 24_000 and len(samples) > rate // 2


def test_javascript_fetch(server, tmp_path):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    out = run("javascript-fetch", ["node"], ".mjs", server, tmp_path)
    assert "Fetch" in out and re.search(r"received \d{5,} bytes of wav", out)


def check_fields_of_a_component(code: str) -> None:
    """A component is not rendered here: the fields it reads are checked against the schema."""
    code = code.replace("result.value", "result")  # Vue's refs
    response_fields = set(TTSResponse.model_fields)
    word_fields = set(WordTimestamp.model_fields)
    assert set(re.findall(r"result\.(\w+)", code)) <= response_fields
    assert set(re.findall(r"\bw\.(\w+)", code)) <= word_fields
    assert "/tts/" in code and "word_timestamps" in code


def test_the_react_component_reads_the_served_fields():
    check_fields_of_a_component(example("react"))


def test_the_vue_component_reads_the_served_fields():
    check_fields_of_a_component(example("vue"))


def test_pipecat_service_as_configured_speaks_a_turn(server):
    import asyncio

    from tests.live import llm_tokens
    from tests.server.test_agent_clients import TURN, check_turn, run_turn

    namespace: dict = {}
    exec(as_written("pipecat", server), namespace)
    collector = asyncio.run(run_turn(namespace["tts"], llm_tokens(TURN), 16000))
    check_turn(collector, TURN, 16000)


def test_livekit_streaming_prints_each_word_with_its_time(server, tmp_path):
    out = run("livekit-agents", [sys.executable], ".py", server, tmp_path)
    lines = [line.split() for line in out.strip().splitlines()]
    assert [word for *_, word in lines] == ["Hello", "from", "Kokoro.", "Each", "word", "comes", "with", "its", "time."]
    assert all(float(start) <= float(end) for start, end, _ in lines)


def test_curl_to_the_openai_route(server, tmp_path):
    run("curl-openai", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    seconds, rate, container = audio_seconds(tmp_path / "speech.mp3")
    assert (rate, container) == (24_000, "mp3")
    assert 0.8 < seconds < 5


def test_a_websocket_turn_with_aiohttp_prints_its_words_and_writes_its_audio(server, tmp_path):
    out = run("websocket-aiohttp", [sys.executable], ".py", server, tmp_path)
    assert out.split() == ["Hello", "from", "a", "voice", "agent."]
    seconds = (tmp_path / "turn.pcm").stat().st_size / 2 / 16_000
    assert 0.8 < seconds < 5


def test_one_request_per_language_prints_the_documented_words(server, tmp_path):
    if not shutil.which("jq"):
        pytest.fail("jq is needed for the docs' example: apt-get install jq")
    out = run("say-each-language", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    lines = out.strip().splitlines()
    assert len(lines) == 9 and all(json.loads(line) for line in lines)
    japanese, mandarin = lines[6], lines[8]
    assert [japanese, mandarin] == output("say-each-language").strip().splitlines()


def test_a_book_through_bentomls_client_prints_its_chapters_and_writes_the_whole_file(server, tmp_path):
    out = run("books-bentoml-client", [sys.executable], ".py", server, tmp_path)
    lines = [line.split() for line in out.strip().splitlines()]
    assert [(line[0], " ".join(line[1:-2])) for line in lines] == [("1", "The Fox"), ("2", "The Dog")]
    assert [float(line[-1]) for line in lines][0] == 0
    seconds, rate, container = audio_seconds(tmp_path / "book.mp3")
    assert (rate, container) == (24_000, "mp3")
    assert 4 < seconds < 20
    assert (tmp_path / "001.vtt").read_text().startswith("WEBVTT")


def test_a_book_with_curl(server, tmp_path):
    if not shutil.which("jq"):
        pytest.fail("jq is needed for the example: apt-get install jq")
    out = run("books-curl", ["bash", "-euo", "pipefail"], ".sh", server, tmp_path)
    assert json.loads(out)["chapters_done"] == 2
    assert audio_seconds(tmp_path / "book.mp3")[0] > 1
    assert "-->" in (tmp_path / "001.srt").read_text()
