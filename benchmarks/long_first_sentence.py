"""What a listener hears of an answer that opens with one long sentence, alone and beside two
long streams: the pauses inside it for a player that starts with the first audio and plays each
piece as it arrives (PCM streamed on POST /tts/), side by side in one run.

A long first sentence holds the first lane for seconds (its rest, after its first window, is as
urgent as the window: its listener is already hearing it); sending that rest to the lowest-priority
lane instead, to free the first lane for other clients, left it starving beside other work: this
shows whether a change puts a pause inside such a sentence. The text's first sentence is one
chunk of 475 tokens, clauses with no full stop (RUN_ON), then two short ones. Each trial plays
it alone, then 1 s after two 2,000-character streams start (benchmarks.short_beside_streams), on
each server in turn (ABBA); nothing is measured until both servers are idle. Printed: per
server, the total and the longest pause heard alone and beside, and the first audio.

Run: python -m benchmarks.long_first_sentence [--repeats 3] [--baseline 0aa92d9]
"""

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass

import requests

from benchmarks.serving import VOICE
from benchmarks.short_beside_streams import BESIDE_AFTER_S, STREAMS, beside_streams, settle, started_servers
from engine.audio import SAMPLE_RATE

RUN_ON = (
    "When the ferry finally pulled away from the pier that grey morning, with the gulls wheeling "
    "over the harbour and the fishermen still arguing about the weather on the quay, and with the "
    "old lighthouse keeper waving his cap from the end of the breakwater as he always did, she "
    "stood at the rail for a long time, watching the town grow smaller behind her, counting the "
    "chimneys she knew by name, and wondering whether anyone there would notice she was gone "
    "before the evening bell rang across the square"
)
TEXT = RUN_ON + ". The crossing took four hours. Nobody spoke to her."
BYTES_PER_SECOND = SAMPLE_RATE * 2
#: silence shorter than this is not heard as a pause (a player's own buffering covers it)
HEARD_S = 0.05


@dataclass
class Heard:
    first_audio_s: float
    pauses_s: list[float]


def played(base: str) -> Heard:
    """The answer streamed as raw PCM, played from its first byte: each pause the player waits."""
    body = {"text": TEXT, "voice": VOICE, "format": "pcm", "include_timestamps": False}
    started = time.perf_counter()
    runs_out_at: float | None = None
    pauses: list[float] = []
    first_s = 0.0
    with requests.post(f"{base}/tts/", json=body, stream=True, timeout=600) as reply:
        reply.raise_for_status()
        for piece in reply.iter_content(chunk_size=None):
            now = time.perf_counter()
            if runs_out_at is None:
                first_s, runs_out_at = now - started, now
            elif now - runs_out_at > HEARD_S:
                pauses.append(now - runs_out_at)
            runs_out_at = max(runs_out_at, now) + len(piece) / BYTES_PER_SECOND
    return Heard(first_s, pauses)


def summary(heard: list[Heard]) -> str:
    pauses = [sum(h.pauses_s) for h in heard]
    longest = max((max(h.pauses_s, default=0.0) for h in heard), default=0.0)
    first = statistics.median(h.first_audio_s for h in heard)
    return (
        f"pauses heard, total per answer: {' '.join(f'{p:.2f}' for p in pauses)} s (longest {longest:.2f} s); "
        f"first audio p50 {first:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", metavar="REF", help="a git ref to measure beside this checkout")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    with contextlib.ExitStack() as servers:
        bases = started_servers(servers, args.baseline)
        every = list(bases.values())
        for base in every:  # warm-up, and the decoding pace each server measures
            played(base)
            settle(every)
        alone: dict[str, list[Heard]] = {name: [] for name in bases}
        beside: dict[str, list[Heard]] = {name: [] for name in bases}
        names = list(bases)
        for trial in range(args.repeats):
            for name in names if trial % 2 == 0 else names[::-1]:
                alone[name].append(played(bases[name]))
                settle(every)
                beside[name].append(beside_streams(bases[name], played))
                settle(every)
                print(
                    f"  trial {trial + 1} {name}: pauses alone {sum(alone[name][-1].pauses_s):.2f} s, "
                    f"beside {sum(beside[name][-1].pauses_s):.2f} s"
                )
    print(
        f"[long first sentence] a first sentence of {len(RUN_ON)} characters, streamed as PCM and played as "
        f"it arrives, alone and {BESIDE_AFTER_S:.0f} s after {STREAMS} streams start; {args.repeats} trials"
    )
    for name in names:
        print(f"  {name}")
        print(f"    alone:  {summary(alone[name])}")
        print(f"    beside: {summary(beside[name])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
