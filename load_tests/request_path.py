"""The request path under load, in four parts run one after another against a server with default
settings. The server admits a valid request when it projects that it can finish it within its
admission deadline (TTS_ADMISSION_DEADLINE_S), counting the text already taken on; it refuses
the rest at once with 429 and a Retry-After; it answers an invalid request 400 even when full.

a. Health under load: GET /tts/health every 0.2 s while a 10,000-character mp3 JSON request with
   timestamps and two streamed 2,000-character wav requests run. Goal: every poll 200, max < 250 ms.
b. Six 4,000-character JSON requests at once, beside the capacity the server publishes (deadline x
   measured rate) and its backlog. Goal: each is 200 within the deadline, or 429 with a Retry-After
   within 1 s. The split is printed beside how many of them the capacity holds.
c. A 9,000-character request sent just after a 4,000-character one. Goal: both 200.
d. With the server full (4,000-character requests started one by one until one is refused): an
   unknown voice, an 11,000-character text and Japanese text to an English voice with no lang.
   Goal: 400 each within 100 ms. One more valid 4,000-character request is sent too and what it
   got is printed (429 while full). Then the background requests hang up. Goal: the server is
   idle within 15 s.
e. Beside one 10,000-character mp3 stream (a nearly idle server), 5 s after it started: a short
   stream and a short JSON answer with timestamps, one after the other. Goal: each 200 within
   15 s (they neither wait for half the long text to be spoken nor are refused).

    ./serve.sh &                                  # the README's start command, default settings
    .venv/bin/python -m load_tests.request_path --base http://127.0.0.1:5000 [--parts abcde]

Prints each part's figures and whether each goal was met; exits 1 when one was not. Sends only to
the given local server, at most 27 requests, each given up after the admission deadline (read
from /metrics, else 300 s) plus a minute; stops by itself.
"""

import argparse
import sys
import time

import requests

from load_tests.calls import CLIENT_MARGIN_S, REFUSAL_LIMIT_S, Call
from load_tests.goals import Goals
from load_tests.texts import english_text
from load_tests.watch import HealthWatch, Metrics, shown

LONG_CHARS = 10_000
STREAM_CHARS = 2_000
MEDIUM_CHARS = 4_000
LARGE_CHARS = 9_000
OVER_LIMIT_CHARS = 11_000
AT_ONCE = 6
#: how long after the 4,000-character request the 9,000-character one follows
FOLLOW_AFTER_S = 0.5
#: at most this many background requests to fill a server that publishes no capacity
MAX_FILLERS = 12
INVALID_LIMIT_S = 0.1
#: a valid request sent while full that has no answer by then was admitted: it waits its turn
VALID_WAIT_S = 5.0
IDLE_WITHIN_S = 15.0
#: how long the long stream of part e runs before the short requests, and their time limit
BESIDE_AFTER_S = 5.0
BESIDE_LIMIT_S = 15.0
VOICE = "af_heart"


def tts(chars: int, seed: int, **fields: object) -> dict:
    """A POST /tts/ body: `chars` characters of English (a different text per seed) to VOICE."""
    return {"text": english_text(chars, seed), "voice": VOICE, **fields}


def health_under_load(base: str, timeout_s: float, goals: Goals) -> None:
    print(f"[a] /tts/health every 0.2 s beside {LONG_CHARS:,} characters (mp3, JSON with timestamps) "
          f"and two {STREAM_CHARS:,}-character wav streams")  # fmt: skip
    with HealthWatch(base) as health:
        calls = {
            f"{LONG_CHARS:,} characters, mp3 JSON": Call(
                base, "/tts/", tts(LONG_CHARS, 1, format="mp3", include_timestamps=True), timeout_s
            ),
            **{
                f"stream {n}, {STREAM_CHARS:,} characters wav": Call(
                    base, "/tts/", tts(STREAM_CHARS, 1 + n, format="wav", include_timestamps=False), timeout_s
                )
                for n in (1, 2)
            },
        }
        for label, call in calls.items():
            print(f"  {label}: {call.wait()}")
    print(f"  {health.summary()}")
    goals.check(health.healthy, "health under load: every poll 200, max < 250 ms")


def at_once(base: str, deadline_s: float, timeout_s: float, goals: Goals) -> None:
    print(f"[b] {AT_ONCE} requests of {MEDIUM_CHARS:,} characters at once (wav, JSON)")
    before = Metrics.read(base)
    print(f"  before: {before.admission()}")
    calls = [Call(base, "/tts/", tts(MEDIUM_CHARS, 10 + n, format="wav"), timeout_s) for n in range(AT_ONCE)]
    outcomes = [call.wait() for call in calls]
    for n, outcome in enumerate(outcomes, 1):
        print(f"  request {n}: {outcome}")
    served = sum(o.status == 200 for o in outcomes)
    refused = sum(o.status == 429 for o in outcomes)
    others = len(outcomes) - served - refused
    print(f"  served {served}, refused {refused}{f', other {others}' if others else ''}; "
          f"the capacity above holds {shown(before.room_for(MEDIUM_CHARS))} of them")  # fmt: skip
    goals.check(
        all(o.served_or_refused_in_time(deadline_s) for o in outcomes),
        f"each is 200 within the deadline ({deadline_s:.0f} s) or 429 with a JSON error and a Retry-After "
        f"within {REFUSAL_LIMIT_S:.0f} s",
    )


def large_beside_medium(base: str, timeout_s: float, goals: Goals) -> None:
    print(f"[c] {LARGE_CHARS:,} characters sent {FOLLOW_AFTER_S} s after {MEDIUM_CHARS:,} characters (wav, JSON)")
    medium = Call(base, "/tts/", tts(MEDIUM_CHARS, 20, format="wav"), timeout_s)
    time.sleep(FOLLOW_AFTER_S)
    large = Call(base, "/tts/", tts(LARGE_CHARS, 21, format="wav"), timeout_s)
    outcomes = {f"{MEDIUM_CHARS:,} characters": medium.wait(), f"{LARGE_CHARS:,} characters": large.wait()}
    for label, outcome in outcomes.items():
        print(f"  {label}: {outcome}")
    goals.check(all(o.status == 200 for o in outcomes.values()), "both 200")


def fill(base: str, timeout_s: float) -> list[Call]:
    """Starts MEDIUM_CHARS requests one by one until the server refuses one: they run on in the background."""
    room = Metrics.read(base).room_for(MEDIUM_CHARS)
    most = MAX_FILLERS if room is None else min(MAX_FILLERS, room + 2)
    fillers: list[Call] = []
    while len(fillers) < most:
        fillers.append(Call(base, "/tts/", tts(MEDIUM_CHARS, 30 + len(fillers), format="wav"), timeout_s))
        answer = fillers[-1].wait(REFUSAL_LIMIT_S + 0.5)
        if answer is not None:
            print(f"  background request {len(fillers)}: {answer}")
            if answer.status == 429:
                return fillers
    print(f"  {len(fillers)} background requests and none refused: the server may not be full")
    return fillers


def when_full(base: str, timeout_s: float, goals: Goals) -> None:
    print(f"[d] invalid requests while the server is full of {MEDIUM_CHARS:,}-character requests")
    fillers = fill(base, timeout_s)
    admitted = sum(f.outcome is None for f in fillers)
    print(f"  {admitted} background requests running; {Metrics.read(base).admission()}")
    invalid = {
        "unknown voice": {"text": "Hello there.", "voice": "xx_nobody"},
        f"{OVER_LIMIT_CHARS:,} characters": tts(OVER_LIMIT_CHARS, 40),
        "Japanese to an English voice, no lang": {"text": "こんにちは、世界。", "voice": VOICE},
    }
    for label, fields in invalid.items():
        outcome = Call(base, "/tts/", fields, timeout_s).wait()
        print(f"  {label}: {outcome}")
        goals.check(outcome.status == 400 and outcome.seconds < INVALID_LIMIT_S, f"{label}: 400 within 100 ms")

    valid = Call(base, "/tts/", tts(MEDIUM_CHARS, 41, format="wav"), timeout_s)
    outcome = valid.wait(VALID_WAIT_S)
    if outcome is None:
        valid.close()
        outcome = valid.wait()
        print(f"  a valid request while full: no answer in {VALID_WAIT_S:.0f} s, so it was admitted; closed")
    else:
        print(f"  a valid request while full: {outcome}   (429 expected)")

    for filler in fillers:
        filler.close()
    ended = [filler.wait() for filler in fillers]
    print(f"  background requests: {', '.join(str(o.status) for o in ended)}")
    goals.check(
        settled(base, IDLE_WITHIN_S),
        f"the server is idle within {IDLE_WITHIN_S:.0f} s of the background requests leaving",
    )
    print(f"  after: {Metrics.read(base).admission()}")


def short_beside_long(base: str, timeout_s: float, goals: Goals) -> None:
    print(f"[e] a short stream and a short JSON answer {BESIDE_AFTER_S:.0f} s into a {LONG_CHARS:,}-character "
          "mp3 stream")  # fmt: skip
    long = Call(base, "/tts/", tts(LONG_CHARS, 50, format="mp3", include_timestamps=False), timeout_s)
    time.sleep(BESIDE_AFTER_S)
    shorts = {
        "short stream, mp3": tts(60, 51, format="mp3", include_timestamps=False),
        "short JSON with timestamps": tts(60, 52),
    }
    for label, fields in shorts.items():
        outcome = Call(base, "/tts/", fields, timeout_s).wait()
        print(f"  {label}: {outcome}")
        goals.check(
            outcome.status == 200 and outcome.seconds < BESIDE_LIMIT_S, f"{label}: 200 within {BESIDE_LIMIT_S:.0f} s"
        )
    long.close()
    print(f"  the long stream, hung up: {long.wait()}")
    goals.check(settled(base, IDLE_WITHIN_S), f"the server is idle within {IDLE_WITHIN_S:.0f} s of it leaving")


def settled(base: str, within_s: float) -> bool:
    """Whether nothing is in flight, queued or in the backlog by `within_s` from now."""
    give_up = time.monotonic() + within_s
    while True:
        metrics = Metrics.read(base)
        busy = [metrics.total(name) for name in ("tts_requests_in_flight", "tts_requests_queued")]
        if not any(busy) and not metrics.backlog_chars:
            return True
        if time.monotonic() > give_up:
            return False
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--parts", default="abcde", help="which parts to run, in order (default: abcde)")
    args = parser.parse_args()
    if not args.parts or set(args.parts) - set("abcde"):
        parser.error(f"--parts takes letters of abcde, not {args.parts!r}")
    sys.stdout.reconfigure(line_buffering=True)  # progress shows while it runs, even into a file

    if requests.get(f"{args.base}/tts/health", timeout=10).status_code != 200:
        print(f"{args.base} is not healthy: start the server first")
        return 2
    metrics = Metrics.read(args.base)
    deadline_s = metrics.deadline_s
    timeout_s = deadline_s + CLIENT_MARGIN_S
    print(f"server: {metrics.admission()}")
    print(f"admission deadline taken as {deadline_s:.0f} s; each client waits at most {timeout_s:.0f} s")
    goals = Goals()
    parts = {
        "a": lambda: health_under_load(args.base, timeout_s, goals),
        "b": lambda: at_once(args.base, deadline_s, timeout_s, goals),
        "c": lambda: large_beside_medium(args.base, timeout_s, goals),
        "d": lambda: when_full(args.base, timeout_s, goals),
        "e": lambda: short_beside_long(args.base, timeout_s, goals),
    }
    for part in args.parts:
        started = time.perf_counter()
        parts[part]()
        print(f"  ({time.perf_counter() - started:.0f} s)")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
