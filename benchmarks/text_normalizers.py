"""NVIDIA's nemo-text-processing English normaliser against the server's own reading rules
(engine.reading), on the English cases of the reading corpus (benchmarks.reading_corpus; its
"inline" cases aside, they test misaki's inline pronunciations, not reading).

Three readers, side by side:

    misaki         misaki alone: engine.languages.english.as_read replaced by the text as it is
    rules+misaki   the server as it is: the reading rules, then misaki
    nemo+misaki    nemo's Normalizer on the text, then misaki alone on what it wrote

A case passes as in reading_corpus: the phonemes spoken equal those of the words a reader says
(stress, spaces and punctuation aside). The reference, the case's `said` phonemized with the
rules disabled, is the same for all three readers (reading_corpus.evaluate phonemizes it with the
rules on). Costs, for the two normalisers: start-up and extra resident memory, each measured in a
fresh interpreter that has misaki (and with it spaCy, num2words, numpy) imported already, as a
server has; nemo's start-up with its compiled grammars cached (--cache-dir) and, where the cache
is empty or --cold is given, its first start-up, which compiles them; and the median per case of
the normalisation step alone: engine.reading.as_read (which phonemizes each span's words with
misaki) or reading.spans (text to words only), against Normalizer.normalize.

Timestamps: the server times the user's own words, and its rules keep them (each span becomes an
inline pronunciation, `[-5°C](/phonemes/)`, one timed word). nemo rewrites the text instead, so
using it would need an alignment of its output back to the input tokens. Normalizer.normalize
returns only the rewritten string; verbose=True only logs the tagged text (the semiotic classes,
`tokens { money { ... } }`) at DEBUG level, with no offsets. nemo ships
nemo_text_processing/fst_alignment/alignment.py, a command-line heuristic that maps input
character spans to output spans through the shortest path of one FAR rule; it assumes a monotonic
alignment (its own docstring shows "$1" -> "one dollar" mapping "$" to "one"), and it is not wired
into Normalizer, whose output also passes the verbaliser, post-processing and the Moses
detokeniser. normalize_with_audio.py aligns raw and normalised text by a word diff (cdifflib) to
find the rewritten spans. So an alignment would have to be built on one of those.

Needs nemo_text_processing (which pins pynini) next to the server's requirements, in an
environment of its own; run from the repository root with that environment's python:

    python -m benchmarks.text_normalizers [--cache-dir DIR] [--cold] [--repeats 5]
"""

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path

from benchmarks.reading_corpus import CASES, Case, dropped, phonemized, sounds
from engine import reading
from engine.languages import Phonemizers, english

ROOT = Path(__file__).resolve().parent.parent
READERS = ("misaki", "rules+misaki", "nemo+misaki")
NEMO_LOGGER = "NeMo-text-processing"
PhonemesOf = Callable[[str], str]
#: engine.reading.as_read's signature: a sentence and misaki's phonemizer -> the sentence to phonemize
ReadAs = Callable[[str, PhonemesOf], str]

#: run in a fresh interpreter: misaki imported (as in a server), then the normaliser built
COST = """
import json, time, psutil
from misaki import en
process = psutil.Process()
before = process.memory_info().rss
started = time.perf_counter()
{build}
built = time.perf_counter() - started
print(json.dumps({{"s": built, "rss": process.memory_info().rss - before}}))
"""
BUILD_RULES = "import engine.reading"
BUILD_NEMO = (
    "from nemo_text_processing.text_normalization.normalize import Normalizer; "
    "Normalizer(input_case='cased', lang='en', cache_dir={cache_dir!r})"
)


@dataclass
class Reading:
    """What one reader made of the cases."""

    passed: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    phonemes: dict[str, str] = field(default_factory=dict)
    dropped: int = 0


@dataclass
class Cost:
    startup_s: float
    rss_mb: float
    cold_s: float | None = None
    step_ms: float = 0.0
    words_only_ms: float = 0.0


def quiet_nemo() -> None:
    """nemo logs each normalisation at INFO (and resets its level on every call): keep warnings."""
    logging.getLogger(NEMO_LOGGER).addFilter(lambda record: record.levelno >= logging.WARNING)


def build_cost(build: str) -> tuple[float, float]:
    """(seconds, MB of resident memory) to build a normaliser in a fresh interpreter."""
    code = COST.format(build=build)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["s"], measured["rss"] / 2**20


def median_ms(repeats: int, run: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def english_cases() -> list[Case]:
    return [case for case in CASES if case.lang == "a" and case.category != "inline"]


def as_written(text: str, phonemes_of: PhonemesOf) -> str:
    """The reading rules turned off: the text as it is."""
    return text


def read_all(read: ReadAs, sentences: list[tuple[str, PhonemesOf]]) -> None:
    for text, phonemes_of in sentences:
        read(text, phonemes_of)


def spans_all(sentences: list[tuple[str, PhonemesOf]]) -> None:
    for text, _ in sentences:
        list(reading.spans(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cache-dir", default=str(Path.home() / ".cache" / "nemo-text-processing"), help="nemo's compiled grammars"
    )
    parser.add_argument("--cold", action="store_true", help="also time a first start-up into an empty cache")
    parser.add_argument("--repeats", type=int, default=5, help="timings per case for the normalisation step")
    args = parser.parse_args()
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)

    # costs first, one fresh interpreter at a time; a cold build fills the cache the others use
    cold_s = None
    if not any(cache_dir.glob("*.far")):
        cold_s, _ = build_cost(BUILD_NEMO.format(cache_dir=str(cache_dir)))
    elif args.cold:
        with tempfile.TemporaryDirectory() as empty:
            cold_s, _ = build_cost(BUILD_NEMO.format(cache_dir=empty))
    rules_cost = Cost(*build_cost(BUILD_RULES))
    nemo_cost = Cost(*build_cost(BUILD_NEMO.format(cache_dir=str(cache_dir))), cold_s=cold_s)

    from nemo_text_processing.text_normalization.normalize import Normalizer

    quiet_nemo()
    normalizer = Normalizer(input_case="cased", lang="en", cache_dir=str(cache_dir))
    phonemizers = Phonemizers()
    rules = english.as_read
    calls: list[tuple[str, PhonemesOf]] = []

    def recorded(text: str, phonemes_of: PhonemesOf) -> str:
        calls.append((text, phonemes_of))
        return rules(text, phonemes_of)

    cases = english_cases()
    readings = {reader: Reading() for reader in READERS}
    nemo_text: dict[str, str] = {}
    reference: dict[str, str] = {}
    step_ms: dict[str, list[float]] = {"rules+misaki": [], "nemo+misaki": []}
    words_only_ms: list[float] = []
    try:
        english.as_read = as_written
        for case in cases:
            reference[case.text] = sounds(phonemized(phonemizers, "a", case.said))
        for case in cases:
            nemo_text[case.text] = normalizer.normalize(case.text, punct_post_process=True)
            for reader in READERS:
                calls.clear()
                english.as_read = recorded if reader == "rules+misaki" else as_written
                text = nemo_text[case.text] if reader == "nemo+misaki" else case.text
                words = phonemized(phonemizers, "a", text)
                result = readings[reader]
                result.phonemes[case.text] = sounds(words)
                result.passed[case.category].append(result.phonemes[case.text] == reference[case.text])
                result.dropped += len(dropped(words))
                if reader == "rules+misaki":
                    # as_read again on the same sentences, the rules' words phonemized as in the server
                    step_ms[reader].append(median_ms(args.repeats, partial(read_all, rules, list(calls))))
                    words_only_ms.append(median_ms(args.repeats, partial(spans_all, list(calls))))
            normalize = partial(normalizer.normalize, case.text, punct_post_process=True)
            step_ms["nemo+misaki"].append(median_ms(args.repeats, normalize))
    finally:
        english.as_read = rules
    rules_cost.step_ms = statistics.median(step_ms["rules+misaki"])
    rules_cost.words_only_ms = statistics.median(words_only_ms)
    nemo_cost.step_ms = nemo_cost.words_only_ms = statistics.median(step_ms["nemo+misaki"])

    print(f"nemo_text_processing {version('nemo_text_processing')}, pynini {version('pynini')}, "
          f"misaki {version('misaki')}; {len(cases)} English cases\n")  # fmt: skip
    print_table(cases, readings, {"rules+misaki": rules_cost, "nemo+misaki": nemo_cost})
    print_differences(cases, readings, nemo_text, reference)


def print_table(cases: list[Case], readings: dict[str, Reading], costs: dict[str, Cost]) -> None:
    def passed(values: list[bool]) -> str:
        return f"{sum(values)}/{len(values)} {sum(values) / len(values):>4.0%}"

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:34}" + "".join(f"{cell:>15}" for cell in cells))

    row("category (cases read right)", list(READERS))
    for category in dict.fromkeys(case.category for case in cases):
        row(category, [passed(readings[reader].passed[category]) for reader in READERS])
    row("all", [passed([p for ps in readings[reader].passed.values() for p in ps]) for reader in READERS])
    row("dropped tokens", [str(readings[reader].dropped) for reader in READERS])
    normalisers = [costs.get(reader) for reader in READERS]

    def cost_row(label: str, value: Callable[[Cost], float | None], unit: str) -> None:
        cells = []
        for cost in normalisers:
            measured = value(cost) if cost else None
            cells.append("-" if measured is None else f"{measured:.{2 if measured < 10 else 1}f} {unit}")
        row(label, cells)

    cost_row("start-up (nemo: grammar cache warm)", lambda c: c.startup_s, "s")
    cost_row("start-up, nemo: first (compiling)", lambda c: c.cold_s, "s")
    cost_row("extra resident memory", lambda c: c.rss_mb, "MB")
    cost_row("normalising, median per case", lambda c: c.step_ms, "ms")
    cost_row("  text to words only", lambda c: c.words_only_ms, "ms")
    print("(rules: as_read, each span's words phonemized by misaki; text to words only: reading.spans)")


def print_differences(
    cases: list[Case], readings: dict[str, Reading], nemo_text: dict[str, str], reference: dict[str, str]
) -> None:
    rules, nemo = readings["rules+misaki"], readings["nemo+misaki"]
    for title, better, worse in (("nemo+misaki right, rules+misaki wrong", nemo, rules),
                                 ("rules+misaki right, nemo+misaki wrong", rules, nemo)):  # fmt: skip
        found = [c for c in cases if better.phonemes[c.text] == reference[c.text] != worse.phonemes[c.text]]
        print(f"\n{title}: {len(found)}")
        for case in found:
            print(f"  [{case.category}] {case.text!r}\n    nemo wrote  {nemo_text[case.text]!r}")
            print(f"    rules said  {rules.phonemes[case.text]}\n    nemo said   {nemo.phonemes[case.text]}")
            print(f"    a reader    {reference[case.text]}")


if __name__ == "__main__":
    main()
