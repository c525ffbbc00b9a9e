"""Throughput of one long answer, before and after: the 1,968-character text's whole WAV streamed
on POST /tts/ and read at full speed, against a server of this checkout and one of --baseline
(a temporary git worktree), both up at once, alternating ABBA so that a shared machine's drift
falls on both alike. Printed: each time, the medians and after / before (goal: within 5 %).

Run: python -m benchmarks.whole_answer_throughput --baseline 532c557 [--runs 4]
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.first_audio import LONG_TEXT
from tests.live import ROOT, free_port, live_server

#: between two answers: the synthesizers idle again before the next is timed
PAUSE_S = 3.0


def whole_answer_s(base: str) -> float:
    started = time.perf_counter()
    body = {"text": LONG_TEXT, "voice": "af_heart", "format": "wav", "include_timestamps": False}
    with requests.post(f"{base}/tts/", json=body, stream=True, timeout=600) as reply:
        reply.raise_for_status()
        for _ in reply.iter_content(65_536):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, metavar="REF")
    parser.add_argument("--runs", type=int, default=4, help="answers timed on each server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as checkout, tempfile.TemporaryDirectory() as logs:
        subprocess.run(["git", "worktree", "add", "--detach", checkout, args.baseline], cwd=ROOT, check=True)
        try:
            with (
                live_server(free_port(), Path(logs) / "before.log", {}, root=Path(checkout)) as before,
                live_server(free_port(), Path(logs) / "after.log", {}) as after,
            ):
                servers = {f"before ({args.baseline})": before, "after (this checkout)": after}
                for base in servers.values():
                    whole_answer_s(base)  # warm
                times: dict[str, list[float]] = {name: [] for name in servers}
                for run in range(args.runs):
                    order = list(servers.items()) if run % 2 == 0 else list(reversed(servers.items()))
                    for name, base in order:
                        times[name].append(whole_answer_s(base))
                        time.sleep(PAUSE_S)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", checkout], cwd=ROOT, check=False)
    medians = {name: statistics.median(each) for name, each in times.items()}
    for name, each in times.items():
        print(f"{name}: median {medians[name]:.1f} s ({' '.join(f'{t:.1f}' for t in each)})")
    before_s, after_s = medians.values()
    print(f"after / before: {after_s / before_s:.3f} (goal: within 5 %)")


if __name__ == "__main__":
    main()
