"""What reading real-world text costs: start-up and a 200-character request, with the reading rules
and without them (engine.reading.as_read replaced by the text as it is), side by side in one run.

Start-up: a fresh interpreter that imports the engine and builds the English phonemizer (the HTTP
face's share of a start; the model's is untouched). A request: a 200-character text of the
kinds the rules read, planned into chunks (G2P) and rendered by onnxruntime, alternating with and
without the rules so that both see the same machine. The rules change what is said (a phone
number's digits, not amounts; a URL's words, not its letters), so the request is also given per
second of audio.

    python -m benchmarks.reading_cost [--repeats 20]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from engine.languages import english
from engine.settings import ModelSettings, TextSettings
from engine.synthesis import ChunkJob
from engine.tts import KokoroEngine

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "Call 555-0123 before Mon., Feb. 3 at 3:30 PM; it was -5°C and the limit is 30 km/h. "
    "Mail jane.doe@example.com or see https://example.com/start, pages 3-5, World War II.",
    "It costs $4.99, weighs ~5 kg and ships from 123 Main St. on Jan. 5th, 2024, e.g. by van. "
    "Dial (555) 123-4567, No. 5 vs. No. 6; Henry VIII read Chapter IV from 1990–1995.",
]
STARTUP = (
    "import time; started = time.perf_counter(); "
    "from engine.languages import Phonemizers; Phonemizers().get('a')('Warming up.'); "
    "print(time.perf_counter() - started)"
)
WITHOUT_RULES = "import engine.languages.english as english; english.as_read = lambda text, phonemes_of: text; "


def startup_s(without_rules: bool) -> float:
    code = (WITHOUT_RULES if without_rules else "") + STARTUP
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def request_s(engine: KokoroEngine, text: str) -> tuple[float, float, float]:
    """(G2P and planning, the whole request, the audio it speaks) in seconds."""
    started = time.perf_counter()
    chunks = list(engine.planner.plan(text, "af_heart", 1.0))
    planned = time.perf_counter() - started
    jobs = [ChunkJob(token_ids=chunk.token_ids, voice="af_heart", speed=1.0) for chunk in chunks]
    audio_s = sum(audio.duration_s for audio in engine.backend.render_many(jobs))
    return planned, time.perf_counter() - started, audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    reading = english.as_read
    startups: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(5):
        for without in (False, True):
            startups[without].append(startup_s(without))
    engine = KokoroEngine.load(ModelSettings.from_env(), TextSettings.from_env())
    request_s(engine, TEXTS[0])  # warm both the G2P and the model
    planned: dict[bool, list[float]] = {True: [], False: []}
    whole: dict[bool, list[float]] = {True: [], False: []}
    per_audio_s: dict[bool, list[float]] = {True: [], False: []}
    for n in range(args.repeats):
        for without in (False, True):
            english.as_read = (lambda text, phonemes_of: text) if without else reading
            plan_s, request, audio = request_s(engine, TEXTS[n % len(TEXTS)])
            planned[without].append(plan_s)
            whole[without].append(request)
            per_audio_s[without].append(request / audio)
    english.as_read = reading
    print(f"{'median':36} {'with rules':>12} {'without':>12} {'with/without':>13}")
    for what, values in (("start-up (import, English G2P)", startups), ("G2P + planning, 200 characters", planned),
                         ("whole request, 200 characters", whole)):  # fmt: skip
        with_rules, without = statistics.median(values[False]), statistics.median(values[True])
        print(f"{what:36} {with_rules * 1000:>9.0f} ms {without * 1000:>9.0f} ms {with_rules / without:>12.2f}x")
    with_rules, without = statistics.median(per_audio_s[False]), statistics.median(per_audio_s[True])
    ratio = with_rules / without
    print(f"{'request s per second of audio said':36} {with_rules:>12.3f} {without:>12.3f} {ratio:>12.2f}x")


if __name__ == "__main__":
    main()
