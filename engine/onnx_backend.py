"""Kokoro-82M's int8 ONNX export on onnxruntime: the CPU path.

On a CPU, onnxruntime's int8 kernels run this export faster than torch runs the same weights
dequantised (2026-11-26, 2 cores: 1.16x for a 100-token chunk, 1.75x for 300), and the process
needs no torch: about 250 MB against 1 GB and more. It is the same model as the torch path
(benchmarks/weights_parity.py prints their log-mel similarity and duration agreement).

The graph is changed once and cached (`prepared_graph`, engine.onnx_graph): each token's
predicted duration, which the word timestamps need, becomes a second output, and on CPUs with VNNI
the convolutions run as faster signed int8 products, bit for bit the same. And the export's iSTFT
skips the window normalisation torch's applies, so its audio is 1.5x louder: the sum of the
squared Hann windows that overlap at each sample, for kokoro's n_fft 20 and hop 5.

The graph runs in two sessions, its front and its decoder (engine.onnx_windows): together they
give the whole graph's samples, and a job may ask for a window of its frames, whose decoder then
runs on that window and some context around it.
"""

import ctypes
import ctypes.util
import hashlib
import inspect
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from .device import cpu_has_vnni
from .files import write_whole
from .onnx_windows import Front, cut_graphs
from .pypi_onnx import ONNX_SHA256, ONNX_SOURCE, onnx_bytes
from .synthesis import WINDOW_CONTEXT_FRAMES, ChunkAudio, ChunkJob, decoded_span, finish
from .timing import SAMPLES_PER_FRAME
from .voices import VoiceLibrary

log = logging.getLogger(__name__)

#: 1 / Σ hann(20)² over the 4 windows overlapping each sample (hop 5): torch's istft divides by it
LOUDNESS = 1 / 1.5


class OnnxBackend:
    device = "cpu"
    source = ONNX_SOURCE
    decodes_windows = True

    def __init__(
        self,
        front: onnxruntime.InferenceSession,
        decoder: onnxruntime.InferenceSession,
        voices: VoiceLibrary,
        context_frames: int = WINDOW_CONTEXT_FRAMES,
    ):
        """`context_frames`: how many frames beyond a window's each side its decoder is given."""
        self.front = front
        self.decoder = decoder
        self.voices = voices
        self.context_frames = context_frames
        self.run_options = onnxruntime.RunOptions()
        self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    @classmethod
    def load(cls, cache_dir: Path, voices: VoiceLibrary, threads: int = 0, precision: str = "int8") -> "OnnxBackend":
        """The export as prepared for this CPU in `precision` (`prepared_graph`); see `from_graph`."""
        return cls.from_graph(prepared_graph(cache_dir, precision), voices, threads)

    @classmethod
    def from_graph(cls, graph: Path, voices: VoiceLibrary, threads: int = 0) -> "OnnxBackend":
        """`threads`: onnxruntime's intra-op threads (0: one per core). The graph is cut into front
        and decoder once, cached beside it (engine.onnx_windows).

        The session is made on the calling thread, whose CPU priority onnxruntime's threads
        inherit (serving.core.model_worker lowers it for the bulk lane)."""
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Between runs the threads sleep rather than spin: a spinning bulk lane would take the
        # cores from the first-chunk lane, whose whole point is to get them at once.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Denormal floats (the decoder's decaying signals) take the slow path on x86: flushed to
        # zero, a chunk rendered 8-15% faster on 2 cores (2026-11-26); below 1e-38, no one hears them.
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        # The arena makes a chunk 25% faster than malloc'ing every buffer, but keeps the largest
        # chunk's buffers for ever (640 MB after a 300-token chunk): it is shrunk after every run
        # instead (`run_options`), which costs 5% and holds the process near 250 MB. Memory patterns are
        # planned per input shape, and nearly every chunk has a new one: planning cost 30% more.
        options.enable_mem_pattern = False
        front, decoder = (
            onnxruntime.InferenceSession(str(part), options, providers=["CPUExecutionProvider"])
            for part in cut_graphs(graph)
        )
        log.info("onnxruntime %s: Kokoro-82M from %s on CPU", onnxruntime.__version__, ONNX_SOURCE)
        return cls(front, decoder, voices)

    def render_many(self, jobs: Sequence[ChunkJob]) -> list[ChunkAudio]:
        return [self.render(job) for job in jobs]

    def render(self, job: ChunkJob) -> ChunkAudio:
        """The job's frames [frames_from, frames_to), as far as the chunk has them; for the whole
        chunk, the whole graph's own samples."""
        front = self.run_front(job)
        count = front.frame_count
        start = min(job.frames_from, count)
        end = count if job.frames_to is None else max(start, min(job.frames_to, count))
        first, last = decoded_span(start, end, count, self.context_frames)
        wanted = slice((start - first) * SAMPLES_PER_FRAME, (end - first) * SAMPLES_PER_FRAME)
        samples = self.decode(front, first, last)[wanted]
        return finish(samples, front.durations, frames_from=start, fade_out=end == count)

    def run_front(self, job: ChunkJob) -> Front:
        style = self.voices.style(job.voice, len(job.token_ids)).reshape(1, -1)
        outputs = self.front.run(
            None,
            {
                "tokens": np.array([[0, *job.token_ids, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([job.speed], dtype=np.float32),
            },
            self.run_options,
        )
        durations, aligned, pitch, energy, source = outputs
        durations = durations.reshape(-1).astype(np.int64)
        if aligned.shape[2] != durations.sum():
            raise RuntimeError(f"model aligned {aligned.shape[2]} frames for {durations.sum()} frames of durations")
        return Front(durations, aligned, pitch, energy, source, style)

    def decode(self, front: Front, first: int, last: int) -> np.ndarray:
        """The float samples of frames [first, last), decoded from those frames alone."""
        if first == last:
            return np.zeros(0, dtype=np.float32)
        (samples,) = self.decoder.run(None, front.window(first, last), self.run_options)
        samples = samples.reshape(-1).astype(np.float32) * np.float32(LOUDNESS)
        if samples.shape[0] != (last - first) * SAMPLES_PER_FRAME:
            raise RuntimeError(f"model gave {samples.shape[0]} samples for {last - first} frames")
        return samples


def prepared_graph(cache_dir: Path, precision: str = "int8") -> Path:
    """The export as this CPU runs it in `precision` (see engine.onnx_graph, engine.onnx_float),
    made once per export, kind of CPU, precision and rewrite."""
    vnni = cpu_has_vnni()
    path = cache_dir / prepared_graph_name(ONNX_SHA256, vnni, rewrite_source(precision), precision)
    if not path.is_file():
        log.info("preparing the ONNX export for this CPU in %s (once): %s", precision, path)
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_prepared_graph(path, vnni, precision)
        # glibc keeps the graph's parsed copy otherwise: 35 MB more for the process's whole life
        trim_malloc()
    return path


def prepared_graph_name(export_sha256: str, vnni: bool, rewrite_code: str, precision: str = "int8") -> str:
    """The cached graph's file name: the export, the precision, the kind of CPU and the rewrite's own version.

    The version is a digest of the rewrite's source (`rewrite_source`), so that a change to it is
    a new file rather than a stale graph, with no number for anyone to remember to bump. The
    float graphs have no integer products, so they are the same on every kind of CPU."""
    kind = "durations.vnni-matmuls" if vnni and precision == "int8" else "durations"
    version = hashlib.sha256(rewrite_code.encode()).hexdigest()[:12]
    return f"kokoro-v1.0.{precision}.{kind}-{export_sha256[:16]}-rewrite-{version}.onnx"


def rewrite_source(precision: str = "int8") -> str:
    """The code that turns the export into the cached graph: engine.onnx_graph, engine.onnx_float
    for a float graph, and `write_prepared_graph`.

    The modules are read as files, not imported: a graph already cached needs no onnx."""
    modules = ["onnx_graph.py"] if precision == "int8" else ["onnx_graph.py", "onnx_float.py"]
    code = [Path(__file__).with_name(module).read_text() for module in modules]
    return "".join(code) + inspect.getsource(write_prepared_graph)


def write_prepared_graph(path: Path, vnni: bool, precision: str = "int8") -> None:
    import onnx

    from .onnx_float import dequantise, save_in_parts
    from .onnx_graph import convs_as_matmuls, with_durations

    model = onnx.load_from_string(onnx_bytes())
    with_durations(model)
    if precision != "int8":
        log.info("%d quantised operators computed in %s", dequantise(model, precision), precision)
        write_whole(path, lambda partial: save_in_parts(model, partial))
        return
    if vnni:
        log.info("%d convolutions as signed int8 products (VNNI)", convs_as_matmuls(model))
    write_whole(path, lambda partial: onnx.save(model, partial))


def trim_malloc() -> None:
    """Hands the C heap's free pages back to the system, where the C library can (glibc's malloc_trim).

    musl and macOS have no malloc_trim: there nothing is done."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
