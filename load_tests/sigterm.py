"""Shutdown: a request in flight when the server gets SIGTERM still gets its whole answer.

Starts its own server (./serve.sh, the real weights, a free port), sends a long JSON request,
and 3 s later sends SIGTERM to every process of the server, as `kill` or Kubernetes does. The
request must end 200 with all of its audio; the server must then exit by itself.

    .venv/bin/python -m load_tests.sigterm
"""

import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.live import free_port, live_server

TEXT = "A client that is still connected hears the end of its text when the server is asked to stop. " * 6
SIGTERM_AFTER_S = 3.0
EXIT_TIMEOUT_S = 120


def running(group: int) -> bool:
    """Whether a process of the group still runs (an exited one waits, a zombie, for its parent)."""
    states = os.popen(f"ps -o stat= -g {group}").read().split()
    return any(not state.startswith("Z") for state in states)


def main() -> int:
    log = Path(tempfile.mkdtemp()) / "serve.log"
    outcome: dict = {}
    port = free_port()
    with live_server(port, log) as base:
        group = os.getpgid(int(os.popen(f"pgrep -f 'serve service:KokoroTTS .*--port {port}$'").read().split()[0]))

        def speak() -> None:
            started = time.monotonic()
            reply = requests.post(f"{base}/tts/", json={"text": TEXT, "voice": "af_heart"}, timeout=300)
            outcome.update(status=reply.status_code, seconds=time.monotonic() - started)
            if reply.ok:
                outcome["audio_s"] = reply.json()["total_duration"]

        client = threading.Thread(target=speak)
        client.start()
        time.sleep(SIGTERM_AFTER_S)
        os.killpg(group, signal.SIGTERM)
        terminated_at = time.monotonic()
        client.join()
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        while time.monotonic() < deadline and running(group):
            time.sleep(0.5)
        exited_s = time.monotonic() - terminated_at
    print(f"request: {outcome} (SIGTERM {SIGTERM_AFTER_S:.0f} s after it was sent)")
    print(f"server processes gone {exited_s:.1f} s after SIGTERM")
    if outcome.get("status") != 200 or not outcome.get("audio_s"):
        print(f"FAIL: the request in flight was cut; server log: {log}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
