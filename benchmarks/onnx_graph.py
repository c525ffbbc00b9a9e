"""The export's own graph vs the graph onnxruntime runs here (engine.onnx_graph), chunk by chunk.

Both graphs carry the durations output; they differ only in the convolutions, rewritten on CPUs
with VNNI. Printed per chunk length: real-time factor of each (best of 3, interleaved, one
session each with the synthesizer's settings) and whether samples and durations are bit for bit
equal.

Run: python -m benchmarks.onnx_graph
"""

import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime

from engine.device import cpu_has_vnni
from engine.onnx_backend import OnnxBackend, write_prepared_graph
from engine.settings import ModelSettings
from engine.synthesis import ChunkJob
from engine.voices import VoiceLibrary

TOKEN_COUNTS = (40, 150, 300)


def main() -> None:
    if not cpu_has_vnni():
        raise SystemExit("this CPU has no VNNI: the server runs the export's own convolutions here")
    voices = VoiceLibrary(ModelSettings.from_env().voices_dir)
    folder = Path(tempfile.mkdtemp(prefix="kokoro-onnx-graph-"))
    backends = {}
    for name, vnni in (("export", False), ("rewritten", True)):
        write_prepared_graph(folder / f"{name}.onnx", vnni)
        backends[name] = OnnxBackend.from_graph(folder / f"{name}.onnx", voices)
    print(f"[onnx graph] {time.strftime('%Y-%m-%d %H:%M')}, onnxruntime {onnxruntime.__version__}, "
          "real-time factor, best of 3, interleaved")  # fmt: skip
    generator = np.random.default_rng(0)
    for count in TOKEN_COUNTS:
        token_ids = generator.integers(1, 170, count).tolist()
        best = dict.fromkeys(backends, float("inf"))
        outputs = {}
        for _ in range(3):
            for name, backend in backends.items():
                started = time.perf_counter()
                outputs[name] = backend.render(ChunkJob(token_ids=token_ids, voice="af_heart", speed=1.0))
                best[name] = min(best[name], time.perf_counter() - started)
        audio_s = outputs["export"].duration_s
        equal = outputs["export"] == outputs["rewritten"]
        print(f"  {count:3d} tokens, {audio_s:5.1f} s of audio: export {audio_s / best['export']:5.2f}x, "
              f"rewritten {audio_s / best['rewritten']:5.2f}x, speed-up {best['export'] / best['rewritten']:.2f}x; "
              f"bit-equal audio and durations: {equal}")  # fmt: skip


if __name__ == "__main__":
    main()
