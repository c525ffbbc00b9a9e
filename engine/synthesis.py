"""Synthesis: what every backend's chunk becomes, PCM16 audio and per-token durations.

The model's float samples become PCM16 here, once (`finish`), for the torch path (single and
batched) and the onnxruntime path alike. Nothing here imports torch: the HTTP face and the
onnxruntime synthesizer use it too.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .audio import SAMPLE_RATE, to_pcm16

#: 5 ms fades at each chunk's ends keep the joins between chunks free of clicks; the
#: length is unchanged, so word timings are unaffected.
FADE_SAMPLES = 120

#: token ids (without the start and end tokens), voice, speed
ChunkRequest = tuple[Sequence[int], str, float]


@dataclass(frozen=True)
class Rendered:
    pcm16: np.ndarray  # int16, 24 kHz mono, edges faded
    frames: np.ndarray  # int64 pred_dur per input token, start and end tokens included


class Backend(Protocol):
    """A loaded Kokoro-82M that renders chunks: what a synthesizer process holds, and nothing more."""

    #: where the model runs ('cpu', 'cuda', ...) and where its weights came from, for /tts/health
    device: str
    source: str

    def render_many(self, jobs: Sequence[ChunkRequest]) -> list[Rendered]:
        """A batch of chunks, from one request or many, in the order given."""
        ...


def silence(seconds: float) -> Rendered:
    """A pause's audio: no model, no tokens (so two durations, the start and end tokens', of 0)."""
    return Rendered(np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16), np.zeros(2, dtype=np.int64))


def finish(samples: np.ndarray, frames: np.ndarray) -> Rendered:
    """The model's float samples faded at the edges and rounded to PCM16: audio's one float -> int16 step."""
    return Rendered(to_pcm16(fade_edges(samples)), frames)


def fade_edges(samples: np.ndarray) -> np.ndarray:
    length = min(FADE_SAMPLES, samples.shape[0] // 2)
    if length == 0:
        return samples
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
    faded = samples.copy()
    faded[:length] *= ramp
    faded[-length:] *= ramp[::-1]
    return faded
