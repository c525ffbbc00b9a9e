"""Abuse of /tts/websocket beside a well-behaved voice agent: does one client's misuse cost the
others anything?

Against a server it starts (this checkout's ./serve.sh, default settings, on a free loopback
port), for --seconds at once, each abuser on sockets of its own and reconnecting when closed:
- contexts: one socket opens contexts without end (500 at most), ten a second;
- huge: messages of 200 KB (over the message limit) and of 8 MB (under uvicorn's 16 MiB);
- flood: small messages as fast as the socket takes them;
- malformed: binary frames, JSON nested 50,000 deep, JSON that is not an object, wrong types;
- gather: one context fed a word every 20 ms with no sentence end, never ended.
The abusers run in a process of their own, at the lowest CPU priority, and connect from
127.0.0.2, the well-behaved client from 127.0.0.1: two clients the server tells apart by address,
as it would two hosts, and an attacker's own work on other machines' cores, not the server's
(on a 2-core machine a flood's sender alone would take half of them). Meanwhile /tts/health is
polled every 50 ms, the RSS of the server's whole process tree is read every 0.5 s (psutil),
and the well-behaved client on its own socket speaks the fox sentence (one message,
`max_buffer_delay_ms: 0`, as pipecat sends a sentence) again and again, timing its first audio.
The same client first runs alone, so its first audio under abuse is printed as a ratio of its
time alone.

    .venv/bin/python -m load_tests.ws_abuse [--seconds 30] [--baseline b5a1292] [--rounds 3]
        [--env KOKORO_BULK_LANE=off] [--abuser gather --abuser flood ...] [--logs DIR]

--baseline REF runs the same against a server started from REF (a temporary git worktree),
before this checkout's, and prints both; --rounds N runs each N times, alternating (a run's
figures vary with what the abusers happen to send as the client's turn comes), and pools the
turns of all rounds at the end. --env sets a variable for the servers. --abuser runs
only the abusers named, to find which one costs the well-behaved client what. --logs DIR keeps
each server's log (with --env TTS_DEBUG=1 it says where each stream's chunks went).
Loopback only, bounded in count and time; the servers are stopped at the end. Prints the
figures; exits 1 when the well-behaved client failed a turn.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from load_tests.soak import server_root, tree_rss_mb
from load_tests.watch import HealthWatch
from tests.live import ROOT, free_port, live_server

FOX = "The quick brown fox jumps over the lazy dog."
HEALTH_POLL_S = 0.05
RSS_EVERY_S = 0.5
ALONE_TURNS = 5
#: a bound on one well-behaved turn: a stuck server fails the run rather than hanging it
TURN_LIMIT_S = 60.0
MAX_CONTEXTS_OPENED = 500
HUGE_BYTES = (200_000, 8_000_000)
NESTING = 50_000
#: where the abusers connect from: another loopback address than the well-behaved client's
ABUSER_ADDRESS = "127.0.0.2"
SPAWN = multiprocessing.get_context("spawn")


def message(context_id: str, transcript: str, more: bool = True, **fields: object) -> str:
    return json.dumps({
        "context_id": context_id, "transcript": transcript, "continue": more, "model_id": "sonic-2",
        "voice": {"mode": "id", "id": "af_heart"}, "language": "en",
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}, **fields,
    })  # fmt: skip


@dataclass
class Tally:
    """What the server answered one abuser: errors by status, closes by code, messages sent."""

    sent: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        errors = ", ".join(f"{n} x {status}" for status, n in sorted(self.errors.items())) or "none"
        closes = ", ".join(f"{n} x {code}" for code, n in sorted(self.closes.items())) or "none"
        return f"{self.sent} sent; errors {errors}; closed {closes}"


async def reading(ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> None:
    """Counts the errors the server sends; returns when the socket closes."""
    async for answer in ws:
        if answer.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(answer.data)
            if data.get("type") == "error":
                tally.errors[data.get("status_code", 0)] += 1
    tally.closes[str(ws.close_code)] += 1


async def abuse(
    url: str, until: float, tally: Tally, send: Callable[[aiohttp.ClientWebSocketResponse, int], Awaitable[None]]
) -> None:
    """Runs `send(ws, n)` for n = 0, 1, ... on a socket until `until`, reconnecting when the
    server closes it (or the send fails)."""
    n = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ABUSER_ADDRESS, 0))) as http:
        while time.monotonic() < until:
            try:
                async with http.ws_connect(url, max_msg_size=0) as ws:
                    reader = asyncio.create_task(reading(ws, tally))
                    try:
                        while time.monotonic() < until and not ws.closed:
                            await send(ws, n)
                            tally.sent += 1
                            n += 1
                    finally:
                        await ws.close()
                        await asyncio.wait([reader], timeout=5)
                        reader.cancel()
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                tally.closes[type(exc).__name__] += 1
                await asyncio.sleep(0.1)


async def many_contexts(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
    await ws.send_str(message(f"open-{n % MAX_CONTEXTS_OPENED}", "Hello"))
    await asyncio.sleep(0.1)


async def huge(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
    size = HUGE_BYTES[n % len(HUGE_BYTES)]
    await ws.send_str(message(f"huge-{n}", "word " * (size // 5)))
    await asyncio.sleep(0.5)


async def flood(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
    await ws.send_str(message("flood", "word "))
    if n % 100 == 0:
        await asyncio.sleep(0)  # lets the reader see a close


MALFORMED = [
    b'{"context_id": "x"}',
    "[" * NESTING + "]" * NESTING,
    "[1, 2, 3]",
    '"a string"',
    '{"context_id": 7, "transcript": "Hi.", "voice": {"id": "af_heart"}}',
    '{"context_id": "m", "transcript": ["Hi."], "voice": {"id": "af_heart"}}',
    '{"context_id": {"a": 1}, "cancel": "yes"}',
]


async def malformed(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
    frame = MALFORMED[n % len(MALFORMED)]
    await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
    await asyncio.sleep(0.02)


async def endless_gather(ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
    await ws.send_str(message("gather", f"word{n} ", max_buffer_delay_ms=5000))
    await asyncio.sleep(0.02)


ABUSERS = {
    "contexts": many_contexts,
    "huge": huge,
    "flood": flood,
    "malformed": malformed,
    "gather": endless_gather,
}


async def first_audio(ws: aiohttp.ClientWebSocketResponse, turn: str) -> float:
    """One turn of the well-behaved client: seconds to its first audio; raises on an error."""
    started = time.perf_counter()
    await ws.send_str(message(turn, FOX, more=False, max_buffer_delay_ms=0))
    first = None
    async for answer in ws:
        data = json.loads(answer.data)
        if data.get("context_id") != turn:
            continue
        if data["type"] == "chunk" and first is None:
            first = time.perf_counter() - started
        elif data["type"] == "error":
            raise RuntimeError(f"{data['status_code']}: {data['error']}")
        elif data["type"] == "done":
            if first is None:
                raise RuntimeError("done without audio")
            return first
    raise RuntimeError(f"the socket closed ({ws.close_code})")


async def agent(url: str, turns: int | None, until: float | None, failures: list[str]) -> list[float]:
    """The well-behaved client: `turns` turns, or turns until `until`; first audio of each."""
    times: list[float] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        n = 0
        while (turns is not None and n < turns) or (until is not None and time.monotonic() < until):
            try:
                times.append(await asyncio.wait_for(first_audio(ws, f"agent-{n}"), TURN_LIMIT_S))
            except (RuntimeError, TimeoutError) as exc:
                failures.append(f"turn {n}: {exc!r}")
                if ws.closed:
                    break
            n += 1
            await asyncio.sleep(0.5)
    return times


def process_name(cmdline: list[str]) -> str:
    """The service a BentoML worker serves (the word after --service-name), else the command."""
    for flag, value in zip(cmdline, cmdline[1:], strict=False):
        if flag == "--service-name":
            return value
    return " ".join(cmdline)[-60:]


class RssWatch:
    """The RSS of the server's process tree every RSS_EVERY_S, on a thread of its own."""

    def __init__(self, base: str):
        self.root = server_root(base, None)
        self.samples_mb: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "RssWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def now_mb(self) -> float:
        return tree_rss_mb(self.root)[0]

    def by_process_mb(self) -> dict[str, float]:
        """Each process's RSS, named by what it runs (the service a BentoML worker serves)."""
        sizes: dict[str, float] = {}
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                words = process.cmdline()
                sizes[f"{process.pid} {process_name(words)}"] = process.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
        return sizes

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples_mb.append(self.now_mb())
            self._stop.wait(RSS_EVERY_S)


def run_abusers(url: str, seconds: float, abusers: list[str]) -> tuple[dict[str, Tally], list[object]]:
    """The abusers, for `seconds`, in a process of their own: the well-behaved client's times are
    the server's, not those of an event loop it shares with a flood. Each abuser's tally, and
    what each raised (None if nothing)."""
    os.nice(19)
    tallies = {name: Tally() for name in abusers}

    async def all_of_them() -> list[object]:
        until = time.monotonic() + seconds
        running = [abuse(url, until, tallies[name], ABUSERS[name]) for name in abusers]
        return list(await asyncio.gather(*running, return_exceptions=True))

    results = asyncio.run(all_of_them())
    return tallies, [repr(result) if result else None for result in results]


@dataclass
class Measured:
    """One server's run: the report's lines, the well-behaved client's first-audio times alone and
    under abuse, and whether it failed a turn."""

    lines: list[str]
    alone: list[float]
    beside: list[float]
    failed: bool


async def measure(base: str, seconds: float, abusers: list[str]) -> Measured:
    """One server's run under abuse, beside the well-behaved client."""
    url = base.replace("http", "ws", 1) + "/tts/websocket"
    failures: list[str] = []
    await agent(url, 1, None, failures)  # warm: the first turn loads what each language needs
    with HealthWatch(base, HEALTH_POLL_S), RssWatch(base):  # alone, as watched as under abuse
        alone = await agent(url, ALONE_TURNS, None, failures)
    rss = RssWatch(base)
    before_mb, before_each = rss.now_mb(), rss.by_process_mb()
    with HealthWatch(base, HEALTH_POLL_S) as health, rss, ProcessPoolExecutor(1, mp_context=SPAWN) as pool:
        abusing = asyncio.wrap_future(pool.submit(run_abusers, url, seconds, abusers))
        beside = await agent(url, None, time.monotonic() + seconds, failures)
        tallies, results = await abusing
    await asyncio.sleep(5)  # what the abuse left behind: contexts, buffers, freed or not
    after_mb, after_each = rss.now_mb(), rss.by_process_mb()
    alone_s, beside_s = statistics.median(alone), statistics.median(beside) if beside else float("nan")
    lines = [
        f"well-behaved first audio alone: median {alone_s:.2f} s, max {max(alone):.2f} s ({len(alone)} turns)",
        f"well-behaved first audio under abuse: median {beside_s:.2f} s, "
        f"max {max(beside, default=float('nan')):.2f} s ({len(beside)} turns); ratio {beside_s / alone_s:.2f}x",
        f"  each turn in order: {' '.join(f'{seconds:.2f}' for seconds in beside)}",
        health.summary(),
        f"server RSS: {before_mb:.0f} MB before, peak {max(rss.samples_mb, default=before_mb):.0f} MB "
        f"(+{max(rss.samples_mb, default=before_mb) - before_mb:.0f} MB), {after_mb:.0f} MB 5 s after",
        *(
            f"  {name}: {before_each.get(name, 0):.0f} MB before, {size:.0f} MB 5 s after"
            for name, size in after_each.items()
        ),
        *(f"  {name}: {tally.summary()}" for name, tally in tallies.items()),
        *(f"  abuser {name} raised {result}" for name, result in zip(abusers, results, strict=True) if result),
        *(f"  well-behaved client: {failure}" for failure in failures),
    ]
    return Measured(lines, alone, beside, bool(failures))


def pooled(runs: list[Measured]) -> str:
    """Every round's turns together: the well-behaved client's usual first audio (alone) against
    its first audio under abuse, and how many of those turns were within the slowest alone."""
    alone = [seconds for run in runs for seconds in run.alone]
    beside = sorted(seconds for run in runs for seconds in run.beside)
    if not beside:
        return "no turn under abuse"
    usual_s = max(alone)
    within = sum(seconds <= usual_s for seconds in beside)
    p90 = beside[min(len(beside) - 1, int(0.9 * len(beside)))]
    alone_s, beside_s = statistics.median(alone), statistics.median(beside)
    return (
        f"{len(runs)} rounds: alone median {alone_s:.2f} s, max {usual_s:.2f} s ({len(alone)} turns); "
        f"under abuse median {beside_s:.2f} s, p90 {p90:.2f} s, max {beside[-1]:.2f} s ({len(beside)} turns), "
        f"ratio {beside_s / alone_s:.2f}x; {within} of {len(beside)} within the slowest alone"
    )


def served_from(
    root: Path, label: str, seconds: float, env: dict[str, str], abusers: list[str], logs: Path | None
) -> Measured:
    with tempfile.TemporaryDirectory() as temporary:
        kept_in = logs or Path(temporary)
        kept_in.mkdir(parents=True, exist_ok=True)
        log = kept_in / f"serve-{label}.log"
        with live_server(free_port(), log, env, root=root) as base:
            print(f"{label}: serving on {base}; its log: {log if logs else 'not kept'}", flush=True)
            return asyncio.run(measure(base, seconds, abusers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the abuse lasts")
    parser.add_argument("--baseline", metavar="REF", help="also measure a server started from this commit, first")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the servers")
    parser.add_argument("--abuser", action="append", choices=list(ABUSERS), help="only these abusers (default: all)")
    parser.add_argument("--logs", type=Path, metavar="DIR", help="keep each server's log here (with TTS_DEBUG=1: why)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each server, alternating; pooled at the end")
    args = parser.parse_args()
    abusers = list(dict.fromkeys(args.abuser or ABUSERS))
    env = dict(setting.split("=", 1) for setting in args.env)
    runs: dict[str, list[Measured]] = {}
    with contextlib.ExitStack() as stack:
        servers = [("after (this checkout)", ROOT)]
        if args.baseline:
            checkout = stack.enter_context(tempfile.TemporaryDirectory())
            subprocess.run(["git", "worktree", "add", "--detach", checkout, args.baseline], cwd=ROOT, check=True)
            stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", checkout], cwd=ROOT, check=False)
            servers.insert(0, (f"before ({args.baseline})", Path(checkout)))
        for round_number in range(1, args.rounds + 1):
            for label, root in servers:
                name = label.split()[0] if args.rounds == 1 else f"{label.split()[0]}-{round_number}"
                measured = served_from(root, name, args.seconds, env, abusers, args.logs)
                runs.setdefault(label, []).append(measured)
                print(f"\n{label}, round {round_number}, {args.seconds:.0f} s of abuse ({', '.join(abusers)}):")
                print("\n".join(measured.lines), flush=True)
    print()
    for label, measured in runs.items():
        print(f"{label}: {pooled(measured)}")
    for label, measured in runs.items():
        print(f"{label}: the well-behaved client failed a turn: {any(run.failed for run in measured)}")
    return 1 if any(run.failed for run in runs["after (this checkout)"]) else 0


if __name__ == "__main__":
    sys.exit(main())
