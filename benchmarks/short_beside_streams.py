"""A short answer beside long streams: the fox sentence as JSON (with timestamps), sent 1 s after
two 2,000-character streams start, against the same request alone, side by side in one run.

The streams are read at full speed, as a client that buffers does; they hang up once the short
answer is back, and nothing is measured until both servers are idle again: nothing in flight,
queued or in the backlog, and their processes using no CPU (the chunk in the model when the
streams left is finished there). Each trial sends the
request alone, then beside the streams; trials alternate between the servers (ABBA) so that a
shared machine's drift falls on both alike. Printed: each time, the p50 of each, beside / alone
for each server and, with --baseline, this checkout's p50 over the baseline's.

  --baseline REF  the same against a server started from a temporary git worktree of REF (both
                  servers up at once, idle while the other is measured); removed afterwards

Run: python -m benchmarks.short_beside_streams [--repeats 5] [--baseline b5a1292]
"""

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import psutil
import requests

from benchmarks.serving import FOX, LONG_TEXT, post_json
from load_tests.watch import Metrics
from tests.live import ROOT, free_port, live_server

T = TypeVar("T")
STREAMS = 2
#: how long after the streams are sent the short answer follows
BESIDE_AFTER_S = 1.0
#: a measurement begins only once the servers have nothing in flight, queued or in the backlog,
#: and their processes used less than QUIET_CPU_S of CPU over QUIET_OVER_S
SETTLE_WITHIN_S = 120.0
QUIET_CPU_S = 0.05
QUIET_OVER_S = 0.5
STREAM_VOICE = "am_michael"


def seconds_for_fox(base: str) -> float:
    started = time.perf_counter()
    post_json(base, FOX)
    return time.perf_counter() - started


def stream_until(base: str, stop: threading.Event) -> None:
    """Reads a 2,000-character WAV stream as fast as it comes, until it ends or `stop` is set."""
    body = {"text": LONG_TEXT, "voice": STREAM_VOICE, "include_timestamps": False}
    with requests.post(f"{base}/tts/", json=body, stream=True, timeout=600) as reply:
        reply.raise_for_status()
        for _ in reply.iter_content(chunk_size=None):
            if stop.is_set():
                return


def beside_streams(base: str, measure: Callable[[str], T]) -> T:
    """`measure(base)` BESIDE_AFTER_S after STREAMS long streams start on `base`; they hang up once it is done."""
    stop = threading.Event()
    streams = [threading.Thread(target=stream_until, args=(base, stop)) for _ in range(STREAMS)]
    for stream in streams:
        stream.start()
    time.sleep(BESIDE_AFTER_S)
    try:
        return measure(base)
    finally:
        stop.set()
        for stream in streams:
            stream.join()


def server_processes(base: str) -> list[psutil.Process]:
    """BentoML's arbiter listening on `base` and the services it started."""
    port = urlparse(base).port
    listener = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
    arbiter = psutil.Process(listener)
    while arbiter.parent() is not None and "bentoml" in " ".join(arbiter.parent().cmdline()):
        arbiter = arbiter.parent()
    return [arbiter, *arbiter.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def settle(bases: list[str]) -> None:
    give_up = time.monotonic() + SETTLE_WITHIN_S
    processes = [p for base in bases for p in server_processes(base)]
    while time.monotonic() < give_up:
        busy = False
        for base in bases:
            metrics = Metrics.read(base)
            queues = [metrics.total(name) for name in ("tts_requests_in_flight", "tts_requests_queued")]
            busy = busy or any(queues) or bool(metrics.backlog_chars)
        used = cpu_seconds(processes)
        time.sleep(QUIET_OVER_S)
        if not busy and cpu_seconds(processes) - used < QUIET_CPU_S:
            return
    raise RuntimeError(f"{', '.join(bases)} still busy {SETTLE_WITHIN_S:.0f} s after a trial")


@contextlib.contextmanager
def worktree_of(ref: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="kokoro-baseline-")) / "checkout"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=True)


def started_servers(servers: contextlib.ExitStack, baseline: str | None) -> dict[str, str]:
    """This checkout's server by name and URL, after the baseline's where one is named (a git ref),
    each with a BentoML home and a log of its own; they stop as `servers` closes."""
    logs = Path(tempfile.mkdtemp(prefix="kokoro-bench-"))
    roots = {"this checkout": ROOT}
    if baseline:
        roots = {f"baseline {baseline}": servers.enter_context(worktree_of(baseline)), **roots}
    bases = {}
    for index, (name, root) in enumerate(roots.items()):
        env = {"BENTOML_HOME": str(logs / f"bentoml-{index}")}
        bases[name] = servers.enter_context(live_server(free_port(), logs / f"server-{index}.log", env, root=root))
        print(f"{name}: {root} at {bases[name]}")
    return bases


def shown(times: list[float]) -> str:
    return f"p50 {statistics.median(times):5.2f} s  ({' '.join(f'{t:.2f}' for t in times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", metavar="REF", help="a git ref to measure beside this checkout")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    with contextlib.ExitStack() as servers:
        bases = started_servers(servers, args.baseline)
        every = list(bases.values())
        for base in every:  # warm-up: the first request of each kind loads what it needs
            seconds_for_fox(base)
            beside_streams(base, seconds_for_fox)
            settle(every)
        alone: dict[str, list[float]] = {name: [] for name in bases}
        beside: dict[str, list[float]] = {name: [] for name in bases}
        names = list(bases)
        for trial in range(args.repeats):
            for name in names if trial % 2 == 0 else names[::-1]:
                alone[name].append(seconds_for_fox(bases[name]))
                settle(every)
                beside[name].append(beside_streams(bases[name], seconds_for_fox))
                settle(every)
                print(f"  trial {trial + 1} {name}: alone {alone[name][-1]:.2f} s, beside {beside[name][-1]:.2f} s")
    print(f"[short beside streams] {FOX!r} as JSON, alone vs {BESIDE_AFTER_S:.0f} s after {STREAMS} streams of "
          f"{len(LONG_TEXT):,} characters start; {args.repeats} trials")  # fmt: skip
    ratios = {}
    for name in names:
        ratios[name] = statistics.median(beside[name]) / statistics.median(alone[name])
        print(f"  {name}")
        print(f"    alone:  {shown(alone[name])}")
        print(f"    beside: {shown(beside[name])}")
        print(f"    beside / alone: {ratios[name]:.2f}x")
    if args.baseline:
        before, after = names
        print(f"  this checkout / baseline, p50 beside: "
              f"{statistics.median(beside[after]) / statistics.median(beside[before]):.2f}x; "
              f"beside / alone {ratios[before]:.2f}x -> {ratios[after]:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
