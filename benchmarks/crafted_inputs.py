"""Crafted inputs against a live server: each case's status and time, and /tts/health's worst
latency while it runs, for the current checkout and (with --baseline) another ref, side by side.

Each case is one HTTP request built to make the server work hard for little input: regexes'
worst characters repeated, pause marks typed by the client, breaks that cannot be read or add up
to hours, voice names that are not names. Its time is until the status and the first byte of the
body (a case that speaks is then closed: only the work before the first audio is measured), cut
off by the client at --timeout seconds. All the while /tts/health is polled every 50 ms from
another thread; the worst latency of the polls that overlap the case is its column. After a case
the server is given time to go quiet (health answering in under 0.5 s) before the next.

The baseline is served from a temporary git worktree of the ref, with this checkout's virtualenv.

Run: python -m benchmarks.crafted_inputs [--baseline REF] [--timeout 70] [--cases TEXT]
"""

import argparse
import contextlib
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.live import ROOT, free_port, live_server

#: a server is quiet again once health answers this fast
QUIET_LATENCY_S = 0.5
HEALTH_EVERY_S = 0.05
URL = "See http://example.com/a"


@dataclass(frozen=True)
class Case:
    name: str
    route: str
    body: dict
    form: bool = False


def tts(text: str, voice: str = "af_heart", **fields: object) -> dict:
    return {"text": text, "voice": voice, "format": "pcm", "include_timestamps": False, **fields}


CASES = (
    Case("voice: 60,000 spaces between two letters", "/tts/", tts("Hello.", "a" + " " * 60_000 + "b")),
    Case("voice: 'af_bella(' + 60,000 spaces + x", "/tts/", tts("Hello.", "af_bella(" + " " * 60_000 + "x")),
    Case("voice: af_bella(\u0662) (Arabic-Indic 2), streamed", "/tts/", tts("Hello there.", "af_bella(\u0662)")),
    Case("voice: af_bella(\u0662) as a form", "/tts/", tts("Hello there.", "af_bella(\u0662)"), form=True),
    Case("voice: 60,000 spaces on /v1/audio/speech", "/v1/audio/speech",
         {"model": "tts-1", "input": "Hello.", "voice": "a" + " " * 60_000 + "b", "response_format": "pcm"}),
    Case("voice: 60,000 spaces on /tts/bytes", "/tts/bytes",
         {"model_id": "sonic-3", "transcript": "Hello.", "voice": {"mode": "id", "id": "a" + " " * 60_000 + "b"},
          "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}}),
    Case("600 x '<break time=1ms ' (9,600 chars)", "/tts/", tts("Hi " + "<break time=1ms " * 600)),
    Case("<break time=\"1.2.3s\"/>", "/tts/", tts('Wait <break time="1.2.3s"/> now.')),
    Case("<break time=\"1.2.3s\"/> on /tts/stream", "/tts/stream",
         {"text": 'Wait <break time="1.2.3s"/> now.', "voice": "af_heart"}),
    Case("<break time=\"soon\"/> on /v1/audio/speech", "/v1/audio/speech",
         {"model": "tts-1", "input": 'Wait <break time="soon"/> now.', "voice": "alloy", "response_format": "pcm"}),
    Case("500 x <break time=\"5s\"/>", "/tts/", tts("Hi." + '<break time="5s"/>' * 500)),
    Case("private-use pause mark: 999,999,999 ms", "/tts/", tts("Hello \ue000999999999\ue001 world")),
    Case("private-use pause mark as entities", "/tts/", tts("Hello &#xe000;999999999&#xe001; world")),
    Case("URL + 9,900 dots + x", "/tts/", tts(URL + "." * 9_900 + "x")),
    Case("URL + 9,900 ')' + x", "/tts/", tts(URL + ")" * 9_900 + "x")),
    Case("'www.a/' x 1,600", "/tts/", tts("www.a/" * 1_600 + "x")),
    Case("Japanese + 9,900 dots + x", "/tts/", tts("こんにちは" + "." * 9_900 + "x", "jf_alpha")),
    Case("Mandarin + 9,900 '!' + x", "/tts/", tts("你好" + "!" * 9_900 + "x", "zf_xiaobei")),
    Case("Spanish + 9,900 dots + x", "/tts/", tts("Hola" + "." * 9_900 + "x", "ef_dora")),
    Case("'a[' x 4,900", "/tts/", tts("a[" * 4_900)),
    Case("'[a](' x 2,400", "/tts/", tts("[a](" * 2_400 + "x")),
    Case("'1,000' x 1,900 (a grouped number)", "/tts/", tts("1" + ",000" * 2_400)),
    Case("9,000-digit number", "/tts/", tts("1" * 9_000)),
    Case("&# + 5,000 digits ;", "/tts/", tts("Hello &#" + "1" * 5_000 + "; world")),
    Case("3,000 nested <b> tags", "/tts/", tts("<b>" * 1_500 + "Hello" + "</b>" * 1_500)),
    Case("'<a b=' x 1,900 (unclosed tags)", "/tts/", tts("Hi " + "<a b=" * 1_900)),
    Case("text: 10,001 letters (over the limit)", "/tts/", tts("a" * 10_001)),
    Case("JSON nested 100,000 deep", "/tts/", {"text": [[[]]], "voice": "af_heart"}),
)  # fmt: skip


@dataclass
class HealthWatch:
    """Polls /tts/health every HEALTH_EVERY_S from a thread; keeps each poll's start, end and latency."""

    base: str
    polls: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{self.base}/tts/health", timeout=600)
            self.polls.append((started, time.perf_counter()))
            self._stop.wait(max(0.0, HEALTH_EVERY_S - (time.perf_counter() - started)))

    def worst(self, start: float, end: float) -> float:
        """The slowest poll that overlapped [start, end], counting a poll still waiting as waiting until now."""
        now = time.perf_counter()
        spans = [*self.polls, (self.polls[-1][1] if self.polls else start, now)]
        return max((e - s for s, e in spans if e >= start and s <= end), default=0.0)

    @contextlib.contextmanager
    def watching(self) -> Iterator["HealthWatch"]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=700)


def send(base: str, case: Case, timeout_s: float) -> str:
    """The status of one case, once its first byte of body is in (or 'timeout')."""
    kwargs: dict = {"data": case.body} if case.form else {"json": case.body}
    if case.name.startswith("JSON nested"):
        kwargs = {"data": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                  "headers": {"Content-Type": "application/json"}}  # fmt: skip
    try:
        with requests.post(f"{base}{case.route}", stream=True, timeout=(10, timeout_s), **kwargs) as reply:
            next(reply.iter_content(chunk_size=None), b"")
            return str(reply.status_code)
    except requests.Timeout:
        return "timeout"
    except requests.RequestException as exc:
        return type(exc).__name__


def wait_quiet(base: str, limit_s: float = 300) -> None:
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{base}/tts/health", timeout=limit_s)
            if time.perf_counter() - started < QUIET_LATENCY_S:
                return
        time.sleep(1)


def run_cases(root: Path, cases: list[Case], timeout_s: float, label: str) -> list[tuple[str, float, float]]:
    results = []
    with tempfile.TemporaryDirectory() as folder, live_server(free_port(), Path(folder) / "log", root=root) as base:
        wait_quiet(base)
        with HealthWatch(base).watching() as health:
            for case in cases:
                started = time.perf_counter()
                status = send(base, case, timeout_s)
                ended = time.perf_counter()
                results.append((status, ended - started, health.worst(started, ended)))
                print(f"  {label}: {case.name}: {status} in {ended - started:.2f} s, health worst "
                      f"{results[-1][2]:.2f} s", flush=True)  # fmt: skip
                time.sleep(0.5)
                wait_quiet(base)
    return results


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git ref to run the same cases against first (e.g. b5a1292)")
    parser.add_argument("--timeout", type=float, default=70, help="the client's read timeout per case, seconds")
    parser.add_argument("--cases", default="", help="only the cases whose name holds one of these texts, '|'-joined")
    args = parser.parse_args()
    cases = [case for case in CASES if any(part in case.name for part in args.cases.split("|"))]
    columns = {}
    if args.baseline:
        with worktree(args.baseline) as path:
            columns[f"before ({args.baseline})"] = run_cases(path, cases, args.timeout, "before")
    columns["after (this checkout)"] = run_cases(ROOT, cases, args.timeout, "after")
    header = " | ".join(f"{name}: status, s, health worst s" for name in columns)
    print(f"\n| case | {header} |")
    print("|---|" + "---|" * len(columns))
    for n, case in enumerate(cases):
        cells = " | ".join(f"{rows[n][0]}, {rows[n][1]:.2f}, {rows[n][2]:.2f}" for rows in columns.values())
        print(f"| {case.name} | {cells} |")
    for name, rows in columns.items():
        print(f"{name}: worst health latency {max(row[2] for row in rows):.2f} s over {len(rows)} cases")


if __name__ == "__main__":
    main()
