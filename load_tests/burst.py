"""Overload: 32 requests of 2,000 characters at once (JSON with timestamps, wav).

Goals: each request is served (200) within the admission deadline, or refused at once (429 with
a JSON error and a Retry-After, answered within 1 s); no client times out, each waiting the
deadline plus a minute (the deadline read from tts_admission_deadline_seconds, else 300 s);
GET /tts/health, polled every 0.2 s throughout, answers 200 each time in under 250 ms; and once
the burst is over the server stops rendering (at most one chunk, the one already inside the
model, in the 10 s after).

    ./serve.sh &                                  # the README's start command, default settings
    .venv/bin/python -m load_tests.burst --base http://127.0.0.1:5000

Prints the counts beside the capacity the server publishes, and exits 1 when a goal fails. Sends
only to the given local server, a bounded number of requests, and stops by itself.
"""

import argparse
import statistics
import sys
import time
from collections import Counter

from load_tests.calls import CLIENT_MARGIN_S, REFUSAL_LIMIT_S, Call
from load_tests.goals import Goals
from load_tests.texts import english_text
from load_tests.watch import HealthWatch, Metrics, shown

TEXT = english_text(2000)
#: after the burst, how long the rendered-chunk count must stay still
AFTER_S = 10.0


def rendered_chunks(base: str) -> float:
    """Chunks the synthesizers have rendered so far, summed over lanes (tts_chunks_rendered_total)."""
    return Metrics.read(base).total("tts_chunks_rendered_total") or 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows while it runs, even into a file

    before = Metrics.read(args.base)
    deadline_s = before.deadline_s
    timeout_s = deadline_s + CLIENT_MARGIN_S
    print(f"before: {before.admission()}")
    print(f"{args.clients} clients x {len(TEXT):,} characters; the capacity holds "
          f"{shown(before.room_for(len(TEXT)))} of them; each client waits at most {timeout_s:.0f} s")  # fmt: skip

    started = time.perf_counter()
    with HealthWatch(args.base) as health:
        calls = [Call(args.base, "/tts/", {"text": TEXT, "voice": "af_heart"}, timeout_s) for _ in range(args.clients)]
        outcomes = [call.wait() for call in calls]
    burst_s = time.perf_counter() - started

    chunks_before = rendered_chunks(args.base)
    time.sleep(AFTER_S)
    chunks_after = rendered_chunks(args.base)

    statuses = Counter(o.status for o in outcomes)
    served = [o.seconds for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status == 429]
    print(f"burst over in {burst_s:.1f} s; answers: {', '.join(f'{n} x {s}' for s, n in statuses.most_common())}")
    if served:
        print(f"served {len(served)}: seconds min/median/max {min(served):.1f}/{statistics.median(served):.1f}/"
              f"{max(served):.1f}")  # fmt: skip
    if refused:
        print(f"refused {len(refused)}: slowest refusal {max(o.seconds for o in refused):.3f} s, "
              f"Retry-After {sorted({str(o.retry_after) for o in refused})}")  # fmt: skip
    for outcome in outcomes:
        if not outcome.served_or_refused_in_time(deadline_s):
            print(f"  out of bounds: {outcome}")
    print(health.summary())
    print(f"chunks rendered in the {AFTER_S:.0f} s after the burst: {chunks_after - chunks_before:.0f} "
          f"(before {chunks_before:.0f}, after {chunks_after:.0f})")  # fmt: skip
    after = Metrics.read(args.base)
    print(f"after: {after.admission()}; streams failed {shown(after.total('tts_streams_failed_total'))}")

    goals = Goals()
    goals.check(
        all(o.served_or_refused_in_time(deadline_s) for o in outcomes),
        f"each is 200 within the deadline ({deadline_s:.0f} s) or 429 with a JSON error and a Retry-After "
        f"within {REFUSAL_LIMIT_S:.0f} s",
    )
    goals.check(not statuses["timeout"], f"no client timed out ({timeout_s:.0f} s)")
    goals.check(health.healthy, "health throughout: every poll 200, max < 250 ms")
    goals.check(
        chunks_after - chunks_before <= 1,
        f"work stops: at most one chunk (the one inside the model) rendered in the {AFTER_S:.0f} s after the burst",
    )
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
