"""Overload: a burst of long requests at once. Each is served, or refused with 429/503 JSON and a
Retry-After within a second; no client times out; health answers fast all along; once the burst
is over the server stops rendering within one chunk.

    ./serve.sh &                                  # the README's start command, default settings
    .venv/bin/python -m load_tests.burst --base http://127.0.0.1:5000

Prints the counts and exits non-zero when a point fails. Sends only to the given local server,
a bounded number of requests, and stops by itself.
"""

import argparse
import concurrent.futures
import re
import statistics
import sys
import threading
import time
from collections import Counter

import requests

TEXT = (
    "The old lighthouse keeper climbed the spiral stairs each evening, counting the steps as his father "
    "had taught him, and lit the great lamp that warned the fishing boats away from the rocks. "
) * 12


def rendered_chunks(base: str) -> float:
    """Chunks the synthesizers have rendered so far, summed over lanes (tts_chunks_rendered_total)."""
    metrics = requests.get(f"{base}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^tts_chunks_rendered_total\{[^}]*\} (\S+)$", metrics, re.MULTILINE))


def one_request(base: str, timeout_s: float) -> dict:
    started = time.perf_counter()
    try:
        reply = requests.post(f"{base}/tts/", json={"text": TEXT[:2000], "voice": "af_heart"}, timeout=timeout_s)
    except requests.Timeout:
        return {"status": "timeout", "seconds": time.perf_counter() - started}
    outcome = {"status": reply.status_code, "seconds": time.perf_counter() - started}
    if reply.status_code != 200:
        outcome["json_error"] = "error" in reply.json()
        outcome["retry_after"] = reply.headers.get("Retry-After")
    return outcome


def watch_health(base: str, stop: threading.Event, latencies: list[float], statuses: Counter) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            statuses[requests.get(f"{base}/tts/health", timeout=5).status_code] += 1
        except requests.RequestException:
            statuses["error"] += 1
        latencies.append(time.perf_counter() - started)
        stop.wait(0.25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=600.0, help="each client's timeout, seconds")
    args = parser.parse_args()

    stop = threading.Event()
    health_latencies: list[float] = []
    health_statuses: Counter = Counter()
    watcher = threading.Thread(target=watch_health, args=(args.base, stop, health_latencies, health_statuses))
    watcher.start()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        outcomes = list(pool.map(lambda _: one_request(args.base, args.timeout), range(args.clients)))
    burst_s = time.perf_counter() - started
    stop.set()
    watcher.join()

    before = rendered_chunks(args.base)
    time.sleep(10)
    after = rendered_chunks(args.base)

    statuses = Counter(o["status"] for o in outcomes)
    refused = [o for o in outcomes if o["status"] in (429, 503)]
    slow_refusals = [o for o in refused if o["seconds"] >= 1.0]
    bad_refusals = [o for o in refused if not (o["json_error"] and o["retry_after"])]
    served = [o["seconds"] for o in outcomes if o["status"] == 200]
    print(f"{args.clients} clients x {len(TEXT[:2000])} characters, burst over in {burst_s:.1f} s")
    print(f"answers: {dict(statuses)}")
    if served:
        print(
            f"served: {len(served)}, seconds min/median/max {min(served):.1f}/{statistics.median(served):.1f}/"
            f"{max(served):.1f}"
        )
    if refused:
        print(
            f"refused: {len(refused)}, slowest refusal {max(o['seconds'] for o in refused):.3f} s, "
            f"Retry-After {sorted({o['retry_after'] for o in refused})}"
        )
    print(
        f"health: {dict(health_statuses)} in {len(health_latencies)} checks, "
        f"max {max(health_latencies) * 1000:.0f} ms, p50 {statistics.median(health_latencies) * 1000:.0f} ms"
    )
    print(f"chunks rendered in the 10 s after the burst: {after - before:.0f} (before {before:.0f}, after {after:.0f})")

    failures = []
    if statuses["timeout"] or set(statuses) - {200, 429, 503, "timeout"}:
        failures.append("a client timed out or got another status")
    if slow_refusals or bad_refusals:
        failures.append("a refusal was slow, not JSON or had no Retry-After")
    if max(health_latencies) >= 0.1 or set(health_statuses) != {200}:
        failures.append("health was slow or not 200")
    if after - before > 1:
        failures.append("the server kept rendering after the burst")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
