"""What a listener hears, measured: a learned quality score and the silences inside the speech.

The score is DistillMOS (`distillmos` on PyPI, its weights inside the wheel): a speech quality MOS
predictor distilled from XLS-R SQA, on 16 kHz audio. It is the measure the benchmarks hold our
audio against a reference render with; a difference of a few hundredths is within its noise on
one text, so compare means over many texts.

Silences: a 10 ms frame is voiced when its RMS is within 40 dB of the loudest frame's (the
definition the server trims by, engine.trim); a silent run is a run of unvoiced frames between the
first and the last voiced frame. A seam a listener hears is a run of at least 200 ms there.
"""

import importlib
import sys
import types
from collections.abc import Sequence
from functools import cache

import numpy as np

from engine import trim

SAMPLE_RATE = 24_000
MOS_RATE = 16_000
FRAME_S = 0.010
#: a frame this far below the loudest is silence
#: the shortest silent run counted as a pause
MIN_PAUSE_S = 0.200


@cache
def _mos_model():  # noqa: ANN202 (torch is imported here only)
    import torch

    try:
        importlib.import_module("torchaudio")
        import distillmos
    except (ImportError, OSError):
        # distillmos imports torchaudio at the top for file loading and resampling this scorer does
        # not use (it resamples with soxr). PyPI's torchaudio for this torch fails to load its C
        # extension, and installed beside transformers it breaks transformers' import, so it is not
        # installed (benchmarks/requirements-quality.txt): distillmos gets a module with just the
        # names it reads at import, taken away again after, so that nothing else takes it for
        # torchaudio (transformers, for one, looks for it)
        stand_in = types.ModuleType("torchaudio")
        stand_in.transforms = types.SimpleNamespace(MFCC=None, Resample=None)
        sys.modules["torchaudio"] = stand_in
        sys.modules["torchaudio.transforms"] = stand_in.transforms  # type: ignore[assignment]
        try:
            import distillmos
        finally:
            del sys.modules["torchaudio"], sys.modules["torchaudio.transforms"]

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = distillmos.ConvTransformerSQAModel()
    model.eval()
    return model


def mos(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """DistillMOS of mono audio (int16 or float in [-1, 1]) at `rate`."""
    import soxr
    import torch

    audio = _as_float(samples)
    if rate != MOS_RATE:
        audio = soxr.resample(audio, rate, MOS_RATE).astype(np.float32)
    with torch.no_grad():
        return float(_mos_model()(torch.from_numpy(audio)[None, :]).reshape(-1)[0])


def _as_float(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32)


def voiced_frames(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Whether each 10 ms frame is voiced (see the module's docstring)."""
    if rate != SAMPLE_RATE:
        import soxr

        samples = soxr.resample(_as_float(samples), rate, SAMPLE_RATE)
    return trim.voiced_frames(_as_float(samples))


def first_voiced_s(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float | None:
    """When the speech starts: the first voiced frame's start, in seconds; None if all is silence."""
    voiced = np.flatnonzero(voiced_frames(samples, rate))
    return None if voiced.size == 0 else float(voiced[0] * FRAME_S)


def pauses(samples: np.ndarray, rate: int = SAMPLE_RATE, min_pause_s: float = MIN_PAUSE_S) -> list[float]:
    """The silent runs of at least `min_pause_s` between the first and the last voiced frame, in
    seconds, in order."""
    voiced = voiced_frames(samples, rate)
    where = np.flatnonzero(voiced)
    if where.size < 2:
        return []
    inner = voiced[where[0] : where[-1] + 1]
    runs: list[float] = []
    length = 0
    for is_voiced in inner:
        if is_voiced:
            if length * FRAME_S >= min_pause_s - 1e-9:
                runs.append(round(length * FRAME_S, 3))
            length = 0
        else:
            length += 1
    return runs


def extra_pauses(ours: Sequence[float], reference: Sequence[float], tolerance_s: float = 0.15) -> list[float]:
    """Our pauses the reference lacks, or longer than its counterpart by more than `tolerance_s`.

    The runs are matched longest first: each of ours takes the longest unmatched reference pause."""
    left = sorted(reference, reverse=True)
    extra: list[float] = []
    for pause in sorted(ours, reverse=True):
        if left and pause <= left[0] + tolerance_s:
            left.pop(0)
        elif left and pause > left[0] + tolerance_s:
            extra.append(pause)
            left.pop(0)
        else:
            extra.append(pause)
    return sorted(extra, reverse=True)
