"""A sentence decoded in windows of frames against the same sentence decoded whole (onnxruntime, CPU).

The front (engine.onnx_windows) runs once on the whole sentence; the decoder then runs on windows
of `window` frames, each given `context` more frames on either side, and each window's own frames
are kept and joined with no fade. A setting "WxC" cuts the whole sentence in windows of W frames;
"W+xC" decodes the first W frames, then all the rest in one window (a stream's first audio, then
the sentence's remainder); "live" is what a stream gets: a first window of FIRST_WINDOW_FRAMES,
larger where the whole render's pace says the rest could not be decoded before it has played,
then the rest (engine.windows); "live@1.5" as if every decode took 1.5 times as
long (a machine busy with other work). Printed per setting, over plain sentences in three voices:

- log-mel L1 (dB, over the whole render's bins within 60 dB of its loudest) and log-mel cosine
  against the whole decode;
- DistillMOS (benchmarks.speech_quality.mos): the windowed render's mean minus the whole's, and
  the worst sentence's difference;
- the joins: the largest step between two samples across a join, against the largest step
  anywhere in the whole render of the same sentence (above 1: a step the whole render never makes);
- the windows a sentence came in (most), and the gaps a listener playing each window as it arrives
  would hear, each window after the first decoded (its front included) while the audio before it
  plays: the gaps' total over all sentences, and the longest;
- time to the first window (front + first window's decode) over the time of the whole render
  (front + whole decode), and the whole windowed render's time over the whole render's, measured
  side by side in this one run.

Run: python -m benchmarks.windowed_decode [--sentences N] [--settings 40x16,40+x16,live,live@1.5]
"""

import argparse
import itertools
import time

import numpy as np

from benchmarks.speech_quality import mos
from engine.audio import SAMPLE_RATE
from engine.onnx_backend import OnnxBackend
from engine.onnx_windows import Front
from engine.settings import ModelSettings
from engine.speech import LEAD_SAMPLES
from engine.synthesis import WINDOW_CONTEXT_FRAMES, ChunkJob, decoded_span, fade_edges
from engine.text import plan_chunks
from engine.timing import SAMPLES_PER_FRAME
from engine.trim import voiced_span
from engine.tts import KokoroEngine
from engine.windows import FIRST_WINDOW_FRAMES, first_window_end
from serving.core.synthesize import WINDOW_PACE_MARGIN

#: plain sentences, no inner punctuation, 6 to 40 words
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Every morning the lighthouse keeper climbed the narrow stairs to polish the great brass lamp.",
    "She left the keys on the kitchen table before she walked out into the rain.",
    "Our train was delayed by almost an hour because of a signal failure near the bridge.",
    "Please remember to water the tomato plants on the balcony while I am away next week.",
    "The museum opens at nine and the new exhibition about ancient maps is on the second floor.",
    "He had never seen so many stars in the sky as he did that night in the desert.",
    "A small boat drifted slowly along the river while the children waved from the bank.",
    "The committee will announce the winners of the science fair at the end of the month.",
    "My grandmother used to bake bread every Sunday and the whole house smelled of warm crust.",
    "If you turn left at the old church you will find the bakery right across the square.",
    "The engineers spent three weeks testing the new engine before they let anyone fly the plane.",
    "Rain fell steadily on the tin roof and the dog slept soundly by the fire.",
    "Nobody expected the quiet student in the back row to win the national chess championship.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "We watched the sun sink slowly behind the mountains as the air grew cold and still.",
    "The library will be closed on Monday for repairs to the heating system.",
    "After the storm passed the villagers gathered on the beach to collect the driftwood.",
    "Her voice carried across the empty hall like a bell ringing in the distance.",
    "The children built a tall snowman in the garden and gave him a carrot for a nose.",
    "Scientists believe the comet will be visible from the northern hemisphere for about two weeks.",
    "I would like a cup of black coffee and a slice of apple pie please.",
    "The old clock on the wall stopped exactly at midnight and nobody ever wound it again.",
    "Thousands of birds fly south every autumn to escape the long and bitter winter.",
    "The taxi driver knew every shortcut in the city and got us to the airport in twenty minutes.",
    "Tom finally fixed the squeaky door that had annoyed the whole family for years.",
    "The ferry leaves the harbour every two hours and the crossing takes about forty minutes.",
    "When the music started everyone in the room stood up and began to dance together.",
    "The farmer checked the fences along the northern field before the cattle were let out in the morning.",
    "A gentle breeze moved through the tall grass and carried the scent of wild flowers across the valley.",
    "The students waited nervously outside the examination hall until the doors finally opened at ten.",
    "My brother collects old postcards from every town he visits on his long summer road trips.",
)
VOICES = ("af_heart", "am_michael", "bf_emma")
#: window x context in frames of 25 ms; "W+" is a first window of W frames, then the rest; "live[@slower]"
SETTINGS = "40x32,40+x32,live,live@1.5"
MEL_FLOOR_DB = 60.0


def windowed(
    backend: OnnxBackend, front: Front, front_s: float, whole_s: float, setting: str
) -> tuple[np.ndarray, list[int], list[float], float]:
    """The windows' samples joined, where they join (in frames), each window's time (the front's
    for every window after the first included: a stream runs it again for each), and the gaps a
    listener would hear between them."""
    if setting.startswith("live"):
        return live_windows(backend, front, front_s, whole_s, float(setting.partition("@")[2] or 1))
    window, context = setting.split("x")
    count = front.frame_count
    size = int(window.rstrip("+"))
    cuts = [0, min(size, count), count] if window.endswith("+") else [*range(0, count, size), count]
    pieces, seconds = [], []
    for start, end in itertools.pairwise(dict.fromkeys(cuts)):
        piece, took = decoded_window(backend, front, start, end, int(context))
        pieces.append(piece)
        seconds.append(took + (front_s if start else 0.0))
    return np.concatenate(pieces), [cut for cut in cuts[1:-1] if 0 < cut < count], seconds, heard_gaps(pieces, seconds)


def decoded_window(backend: OnnxBackend, front: Front, start: int, end: int, context: int) -> tuple[np.ndarray, float]:
    first, last = decoded_span(start, end, front.frame_count, context)
    started = time.perf_counter()
    samples = backend.decode(front, first, last)
    took = time.perf_counter() - started
    return samples[(start - first) * SAMPLES_PER_FRAME : (end - first) * SAMPLES_PER_FRAME], took


def live_windows(
    backend: OnnxBackend, front: Front, front_s: float, whole_s: float, slower: float
) -> tuple[np.ndarray, list[int], list[float], float]:
    """The windows serving.core.synthesize asks for: the first sized from the pace of the whole render
    (`whole_s`), taken `slower` times as long, then the rest; each decode's time `slower` times as
    long too."""
    count = front.frame_count
    cut = first_window_end(count, WINDOW_PACE_MARGIN * slower * whole_s / count, FIRST_WINDOW_FRAMES)
    pieces, seconds = [], []
    for start, end in itertools.pairwise(dict.fromkeys([0, cut, count])):
        piece, took = decoded_window(backend, front, start, end, WINDOW_CONTEXT_FRAMES)
        pieces.append(piece)
        seconds.append(slower * (took + (front_s if start else 0.0)))
    return np.concatenate(pieces), [cut] if cut < count else [], seconds, heard_gaps(pieces, seconds)


def heard_gaps(pieces: list[np.ndarray], seconds: list[float]) -> float:
    """The silence a listener hears between windows, playing each as it arrives from the first
    word (the timeline trims the lead before it): each window after the first asked for when the
    one before arrived, and decoded while the audio before it plays."""
    span = voiced_span(pieces[0])
    lead = max(0, span[0] - LEAD_SAMPLES) if span else 0
    ahead, gaps = (pieces[0].shape[0] - lead) / SAMPLE_RATE, 0.0
    for piece, took in zip(pieces[1:], seconds[1:], strict=True):
        gaps += max(0.0, took - ahead)
        ahead = max(0.0, ahead - took) + piece.shape[0] / SAMPLE_RATE
    return gaps


def log_mel(samples: np.ndarray) -> np.ndarray:
    import librosa

    power = librosa.feature.melspectrogram(y=samples, sr=24_000, n_fft=1024, hop_length=256, n_mels=80)
    return 10 * np.log10(power + 1e-10)


def mel_distances(samples: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    ours, theirs = log_mel(samples), log_mel(reference)
    loud = theirs > theirs.max() - MEL_FLOOR_DB
    l1 = float(np.abs(ours - theirs)[loud].mean())
    a, b = ours.ravel() - ours.mean(), theirs.ravel() - theirs.mean()
    return l1, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def join_step_ratio(samples: np.ndarray, reference: np.ndarray, cuts: list[int]) -> float:
    """The largest step across a join over the largest step anywhere in the whole render."""
    if not cuts:
        return 0.0
    joins = np.array(cuts) * SAMPLES_PER_FRAME
    steps = np.abs(samples[joins] - samples[joins - 1])
    return float(steps.max() / np.abs(np.diff(reference)).max())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    parser.add_argument("--settings", default=SETTINGS, help=f"window x context, comma-separated (default: {SETTINGS})")
    args = parser.parse_args()
    settings = args.settings.split(",")
    engine = KokoroEngine.load(ModelSettings.from_env())
    backend = engine.backend
    if not isinstance(backend, OnnxBackend):
        raise SystemExit("this measures the onnxruntime backend: run with KOKORO_BACKEND=onnx on CPU")
    for voice in VOICES:
        # each language's G2P is built before the scorer is loaded, whose stand-in torchaudio
        # module breaks the import of transformers that English's spaCy pipeline does
        engine.planner.validate("Hello.", voice, 1.0)
    rows: dict[str, dict[str, list[float]]] = {setting: {} for setting in settings}
    whole_scores, front_share, frame_counts = [], [], []
    for n, sentence in enumerate(SENTENCES[: args.sentences]):
        voice = VOICES[n % len(VOICES)]
        code = engine.planner.validate(sentence, voice, 1.0)
        (chunk,) = plan_chunks(sentence, engine.planner.phonemizers.get(code), engine.planner.vocab)
        job = ChunkJob(token_ids=chunk.token_ids, voice=voice, speed=1.0)
        started = time.perf_counter()
        front = backend.run_front(job)
        front_s = time.perf_counter() - started
        started = time.perf_counter()
        whole = backend.decode(front, 0, front.frame_count)
        whole_s = front_s + time.perf_counter() - started
        front_share.append(front_s / whole_s)
        frame_counts.append(front.frame_count)
        whole_score = mos(fade_edges(whole))
        whole_scores.append(whole_score)
        for setting in settings:
            samples, cuts, seconds, gaps = windowed(backend, front, front_s, whole_s, setting)
            l1, cos = mel_distances(samples, whole)
            row = rows[setting]
            for key, value in (
                ("l1", l1),
                ("cos", cos),
                ("mos", mos(fade_edges(samples)) - whole_score),
                ("join", join_step_ratio(samples, whole, cuts)),
                ("windows", len(seconds)),
                ("gaps", gaps),
                ("first", (front_s + seconds[0]) / whole_s),
                ("total", (front_s + sum(seconds)) / whole_s),
            ):
                row.setdefault(key, []).append(value)
    print(
        f"[windowed decode] {time.strftime('%Y-%m-%d %H:%M')}, {len(whole_scores)} sentences "
        f"({min(frame_counts)}-{max(frame_counts)} frames, voices {', '.join(VOICES)}), onnxruntime int8; "
        f"whole render: DistillMOS {np.mean(whole_scores):.3f}, front {np.mean(front_share):.0%} of its time"
    )
    print(
        "  setting | mel L1 dB  cosine | MOS diff mean  worst | join step max | windows | gaps s, all  worst"
        " | first/whole  total/whole"
    )
    for setting, row in rows.items():
        print(
            f" {setting:>8} | {np.mean(row['l1']):9.2f}  {np.mean(row['cos']):6.4f} | "
            f"{np.mean(row['mos']):+13.3f} {min(row['mos']):+6.3f} | {max(row['join']):13.2f} | "
            f"{max(row['windows']):7.0f} | {sum(row['gaps']):11.2f}  {max(row['gaps']):5.2f} | "
            f"{np.median(row['first']):11.2f}  {np.median(row['total']):11.2f}"
        )


if __name__ == "__main__":
    main()
