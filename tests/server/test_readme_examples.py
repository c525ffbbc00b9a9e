"""Every client example in README.md, run as written against the live server."""

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest
import soundfile

from schemas import TTSResponse, WordTimestamp

pytestmark = pytest.mark.server

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_BASE = "http://localhost:5000"


def example(name: str) -> str:
    match = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert match, f"README has no example '{name}'"
    return match.group(1)


def run(name: str, command: list[str], suffix: str, base: str, cwd: Path) -> str:
    script = cwd / f"{name}{suffix}"
    script.write_text(example(name).replace(DOCUMENTED_BASE, base))
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


@pytest.mark.parametrize("name", ["react", "vue"])
def test_highlighting_components_use_the_served_fields(name):
    """The components are not rendered here: their field names are checked against the schema."""
    code = example(name).replace("result.value", "result")  # Vue's refs
    response_fields = set(TTSResponse.model_fields)
    word_fields = set(WordTimestamp.model_fields)
    assert set(re.findall(r"result\.(\w+)", code)) <= response_fields
    assert set(re.findall(r"\bw\.(\w+)", code)) <= word_fields
    assert "/tts/" in code and "word_timestamps" in code


def test_pipecat_service_as_configured_speaks_a_turn(server):
    import asyncio

    from tests.live import llm_tokens
    from tests.server.test_agent_clients import TURN, check_turn, run_turn

    namespace: dict = {}
    exec(example("pipecat").replace("ws://localhost:5000", server.replace("http://", "ws://")), namespace)
    collector = asyncio.run(run_turn(namespace["tts"], llm_tokens(TURN), 16000))
    check_turn(collector, TURN, 16000)


def test_livekit_streaming_prints_each_word_with_its_time(server, tmp_path):
    out = run("livekit-agents", [sys.executable], ".py", server, tmp_path)
    lines = [line.split() for line in out.strip().splitlines()]
    assert [word for *_, word in lines] == ["Hello", "from", "Kokoro.", "Each", "word", "comes", "with", "its", "time."]
    assert all(float(start) <= float(end) for start, end, _ in lines)
