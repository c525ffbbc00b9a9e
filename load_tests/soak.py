"""Soak: the project's locust mix (load_tests/locustfile.py, 4 users, headless) for --minutes
against a running server, with the RSS of the whole server process tree every 30 s.

Goals: locust counts no failure, and the mean RSS of the last 10 minutes is within 10 % of the
first 10 minutes' (with --minutes under 20, the last third against the first). RSS is summed over
every process of the server: BentoML runs the HTTP face and each synthesizer in processes of their
own, so one process alone would miss most of it.

Starts no server. It finds the server's processes from --pid (serve.sh's, or any process whose
children are the server), or else as the process listening on --base's port, climbing to the
topmost bentoml process above it, with all their children.

    ./serve.sh &                                  # the README's start command, default settings
    .venv/bin/python -m load_tests.soak --base http://127.0.0.1:5000 [--minutes 30] [--pid PID]

Runs --minutes plus at most 120 s for streams still playing, then prints each sample,
locust's request and failure counts and the two means; exits 1 when a goal fails. Sends only to
the given server (locust's 4 users) and stops by itself; locust's files stay in a temporary folder.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import psutil
import requests

from load_tests.goals import Goals

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
USERS = 4
SAMPLE_EVERY_S = 30.0
#: streams still playing when the run time is up finish within this and are counted (load_tests/README.md)
STOP_TIMEOUT_S = 120
#: the windows compared: the first and last 10 minutes, or thirds of a run shorter than 20 minutes
WINDOW_S = 600.0
MAX_GROWTH = 0.10


def server_root(base: str, pid: int | None) -> psutil.Process:
    """The process whose tree is the server: --pid's, or the topmost bentoml process above the port's listener."""
    if pid is not None:
        return psutil.Process(pid)
    port = urllib.parse.urlsplit(base).port or 80
    listeners = [
        c.pid
        for c in psutil.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
    ]
    if not listeners:
        raise SystemExit(f"no process listens on port {port}: start the server, or give its --pid")
    root = psutil.Process(listeners[0])
    while (parent := root.parent()) is not None and "bentoml" in " ".join(parent.cmdline()):
        root = parent
    return root


def tree_rss_mb(root: psutil.Process) -> tuple[float, int]:
    """RSS of `root` and all its descendants, in MB, and how many processes that is."""
    try:
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:  # the server is gone: nothing to add up
        return 0.0, 0
    total, count = 0, 0
    for process in family:
        try:
            total += process.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:  # ended between the listing and the reading
            continue
    return total / 2**20, count


def locust_counts(prefix: Path) -> tuple[int, int]:
    """HTTP requests and failures from locust's final statistics; the "time to first audio" rows
    (type STREAM) time parts of requests already counted, so they are left out."""
    entries = json.loads(prefix.with_suffix(".json").read_text())
    http = [e for e in entries if e["method"] != "STREAM"]
    return sum(e["num_requests"] for e in http), sum(e["num_failures"] for e in entries)


def failure_reasons(prefix: Path) -> list[str]:
    path = prefix.parent / f"{prefix.name}_failures.csv"
    if not path.exists():
        return []
    with path.open() as rows:
        return [f"{row['Occurrences']} x {row['Name']}: {row['Error']}" for row in csv.DictReader(rows)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--minutes", type=float, default=30.0, help="locust's run time (default 30)")
    parser.add_argument("--pid", type=int, help="the server's process (default: found from --base's port)")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error("--minutes must be above 0")
    sys.stdout.reconfigure(line_buffering=True)  # samples show as they are taken, even into a file

    if requests.get(f"{args.base}/tts/health", timeout=10).status_code != 200:
        print(f"{args.base} is not healthy: start the server first")
        return 2
    root = server_root(args.base, args.pid)
    window_s = WINDOW_S if args.minutes >= 20 else args.minutes * 60 / 3
    logs = Path(tempfile.mkdtemp(prefix="kokoro-soak-"))
    prefix = logs / "soak"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", args.base,
        "--users", str(USERS), "--spawn-rate", "1", "--run-time", f"{round(args.minutes * 60)}s",
        "--stop-timeout", str(STOP_TIMEOUT_S), "--only-summary", "--csv", str(prefix), "--json-file", str(prefix),
    ]  # fmt: skip
    print(f"server tree: pid {root.pid} ({' '.join(root.cmdline()[:3])}) and its children; locust's files in {logs}")
    print(f"locust, {USERS} users, {args.minutes:g} min; RSS of the server tree every {SAMPLE_EVERY_S:.0f} s:")

    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    with (logs / "locust.log").open("wb") as log:
        locust = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                elapsed = time.monotonic() - started
                mb, processes = tree_rss_mb(root)
                samples.append((elapsed, mb))
                print(f"  {int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}  {mb:8,.0f} MB  ({processes} processes)")
                try:
                    locust.wait(SAMPLE_EVERY_S)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if locust.poll() is None:
                locust.terminate()
                locust.wait()
    elapsed = time.monotonic() - started
    mb, _ = tree_rss_mb(root)
    samples.append((elapsed, mb))
    print(f"  {int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}  {mb:8,.0f} MB  (locust done, exit {locust.returncode})")

    goals = Goals()
    if not prefix.with_suffix(".json").exists():
        print(f"locust left no statistics; its log: {logs / 'locust.log'}")
        goals.check(False, "locust ran to the end")
        return goals.exit_status()
    requests_sent, failures = locust_counts(prefix)
    print(f"locust: {requests_sent} requests, {failures} failures")
    for reason in failure_reasons(prefix)[:5]:
        print(f"  {reason}")
    first = [mb for seconds, mb in samples if seconds <= window_s]
    last = [mb for seconds, mb in samples if seconds >= elapsed - window_s]
    first_mb, last_mb = sum(first) / len(first), sum(last) / len(last)
    change = last_mb / first_mb - 1
    window = f"{window_s / 60:g} min" if window_s % 60 == 0 else f"{window_s:.0f} s"
    print(f"RSS mean, first {window}: {first_mb:,.0f} MB ({len(first)} samples); "
          f"last {window}: {last_mb:,.0f} MB ({len(last)} samples); change {100 * change:+.1f} %")  # fmt: skip
    goals.check(failures == 0 and requests_sent > 0, "locust counts no failure")
    goals.check(abs(change) <= MAX_GROWTH, f"the last mean RSS within {100 * MAX_GROWTH:.0f} % of the first")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
