"""The whole server under many streaming clients on this machine's device: what users get from batching.

Starts ./serve.sh (the device's defaults, batching on; --env overrides them), warms BentoML's
dispatcher up, then for each client count runs that many clients for --seconds, each streaming
one ~220-character request after another as WAV (`POST /tts/`, no timestamps), and prints:
aggregate audio-seconds per second, first-audio p50 and p95, the synthesizer batches' sizes over
that phase (tts_synthesizer_batch_size from /metrics) and the GPU memory in use (nvidia-smi, the
peak of 1-second samples). Compare the audio-s/s with benchmarks/gpu/batch_sweep.py's
render_many figure at the batch sizes seen: the server aims within 1.10x of it.

Run: python -m benchmarks.gpu.server_load [--clients 16 64] [--seconds 60] [--env NAME=VALUE ...]
"""

import argparse
import concurrent.futures
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from benchmarks.serving import PARAGRAPH
from tests.live import free_port, live_server

VOICES = ("af_heart", "am_michael", "bf_emma", "af_bella")
WAV_HEADER_BYTES = 44
BYTES_PER_SECOND = 24_000 * 2
BATCH_BUCKETS = re.compile(r'^tts_synthesizer_batch_size_bucket\{.*?le="([^"]+)".*?\}\s+([0-9.e+]+)', re.M)


@dataclass
class Phase:
    audio_s: float = 0.0
    first_audio_s: list[float] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def text_for(client: int, request: int) -> str:
    """~220 characters of the paragraph, starting at a different word for each request."""
    words = PARAGRAPH.split()
    start = (client * 7 + request * 3) % len(words)
    text = " ".join(words[start:] + words[:start])
    return text[: text.rfind(" ", 0, 220)]


def stream_one(base: str, text: str, voice: str, phase: Phase) -> None:
    started = time.perf_counter()
    body = {"text": text, "voice": voice, "include_timestamps": False, "format": "wav"}
    try:
        with requests.post(f"{base}/tts/", json=body, stream=True, timeout=600) as reply:
            reply.raise_for_status()
            pieces = reply.iter_content(chunk_size=None)
            size = len(next(pieces))
            first_s = time.perf_counter() - started
            size += sum(len(piece) for piece in pieces)
    except (requests.RequestException, StopIteration):
        with phase.lock:
            phase.failures += 1
        return
    with phase.lock:
        phase.first_audio_s.append(first_s)
        phase.audio_s += (size - WAV_HEADER_BYTES) / BYTES_PER_SECOND


def run_phase(base: str, clients: int, seconds: float) -> tuple[Phase, float]:
    phase = Phase()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        request = 0
        while time.perf_counter() < deadline:
            stream_one(base, text_for(index, request), VOICES[index % len(VOICES)], phase)
            request += 1

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client, index) for index in range(clients)]:
            future.result()
    return phase, time.perf_counter() - started


def batch_histogram(base: str) -> dict[float, float]:
    """Cumulative batch counts by upper bound, summed over the lanes."""
    counts: dict[float, float] = {}
    for bound, count in BATCH_BUCKETS.findall(requests.get(f"{base}/metrics", timeout=10).text):
        counts[float(bound)] = counts.get(float(bound), 0.0) + float(count)
    return counts


def describe_batches(before: dict[float, float], after: dict[float, float]) -> str:
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
    per_bucket = [c - p for c, p in zip(cumulative, [0.0, *cumulative], strict=False)]
    total = cumulative[-1] if cumulative else 0
    if not total:
        return "no batches"
    shown = [
        f"<={int(b) if b != float('inf') else 'inf'}: {int(n)}" for b, n in zip(bounds, per_bucket, strict=True) if n
    ]
    return f"{int(total)} batches, " + ", ".join(shown)


class GpuMemory:
    """Peak of nvidia-smi's memory.used, sampled every second while the phase runs."""

    def __init__(self) -> None:
        self.peak_mib = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "GpuMemory":
        if shutil.which("nvidia-smi"):
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()

    def _sample(self) -> None:
        query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        while not self.stop.wait(1.0):
            used = subprocess.run(query, capture_output=True, text=True, check=False).stdout.split()
            self.peak_mib = max([self.peak_mib, *(int(value) for value in used if value.isdigit())])

    def describe(self) -> str:
        return f"{self.peak_mib / 1024:.1f} GiB" if self.peak_mib else "n/a (no nvidia-smi)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each measured phase")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the server")
    args = parser.parse_args()
    env = dict(pair.split("=", 1) for pair in args.env)
    log = Path(tempfile.mkdtemp(prefix="kokoro-gpu-load-")) / "server.log"
    started = time.perf_counter()
    with live_server(free_port(), log, env) as base:
        print(f"[server load] {time.strftime('%Y-%m-%d %H:%M')}, server healthy after "
              f"{time.perf_counter() - started:.1f} s, env {env or 'defaults'}; log {log}")  # fmt: skip
        run_phase(base, max(args.clients), min(10.0, args.seconds))  # BentoML's dispatcher learns its timing
        for clients in args.clients:
            before = batch_histogram(base)
            with GpuMemory() as memory:
                phase, wall_s = run_phase(base, clients, args.seconds)
            first = phase.first_audio_s or [float("nan")]
            print(f"  {clients:3d} clients, {wall_s:.0f} s: {phase.audio_s / wall_s:8.1f} audio-s/s, "
                  f"{len(phase.first_audio_s)} requests, {phase.failures} failed; first audio "
                  f"p50 {statistics.median(first) * 1000:.0f} ms p95 {np.percentile(first, 95) * 1000:.0f} ms; "
                  f"GPU memory peak {memory.describe()}")  # fmt: skip
            print(f"       batch sizes: {describe_batches(before, batch_histogram(base))}")


if __name__ == "__main__":
    main()
