"""Synthesis: what a backend is asked (`ChunkJob`) and what it gives back (`ChunkAudio`).

Both are the same shapes in-process and between services (the HTTP face sends a synthesizer
`ChunkJob`s and gets `ChunkAudio`s back), so they are Pydantic models of plain values, never
tensors. The model's float samples become PCM16 here, once (`finish`), for the torch path (single
and batched) and the onnxruntime path alike. Nothing here imports torch: the HTTP face and the
onnxruntime synthesizer use it too.
"""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .audio import SAMPLE_RATE, to_pcm16

#: frames decoded beyond each side of a window of a chunk's frames. Measured over 30 sentences
#: (2026-12-07, benchmarks/windowed_decode.py): a first window of 40 frames then the rest in one,
#: each with 32 frames of context, scores as the whole decode (DistillMOS +0.002 on average, the
#: worst sentence -0.235; log-mel cosine 0.996); with 16 frames, -0.041 (worst -0.40). Windows of
#: 40 or 80 frames all along lose 0.10 to 0.29 on average: a few windows, the first short
WINDOW_CONTEXT_FRAMES = 32
#: 5 ms fades at each chunk's ends keep the joins between chunks free of clicks; the
#: length is unchanged, so word timings are unaffected.
FADE_SAMPLES = 120


class ChunkJob(BaseModel):
    """One chunk for the model to render."""

    model_config = ConfigDict(frozen=True)

    token_ids: list[int] = Field(description="Phoneme token ids, without the start and end tokens")
    voice: str
    speed: float
    frames_from: int = Field(
        default=0, ge=0, description="First duration frame whose audio is wanted; a backend that decodes windows only"
    )
    frames_to: int | None = Field(
        default=None, ge=1, description="Frame after the last one wanted; None (or past the end): to the chunk's end"
    )

    @property
    def whole(self) -> bool:
        """Whether the whole chunk's audio is asked for, as every backend can give."""
        return self.frames_from == 0 and self.frames_to is None


class ChunkAudio(BaseModel):
    """One chunk's audio as the model made it, and how long it held each token."""

    model_config = ConfigDict(frozen=True)

    pcm16: bytes = Field(
        description="24 kHz mono little-endian int16 samples of the frames asked for, the chunk's own edges faded"
    )
    frames: list[int] = Field(description="pred_dur per input token, start and end tokens included: the whole chunk's")
    frames_from: int = Field(default=0, ge=0, description="The frame `pcm16` starts at: 0 for a chunk's first audio")

    @property
    def samples(self) -> np.ndarray:
        """`pcm16` as int16 samples (a view: no copy)."""
        return np.frombuffer(self.pcm16, dtype="<i2")

    @property
    def duration_s(self) -> float:
        return len(self.pcm16) / 2 / SAMPLE_RATE


class Backend(Protocol):
    """A loaded Kokoro-82M that renders chunks: what a synthesizer process holds, and nothing more."""

    #: where the model runs ('cpu', 'cuda', ...) and where its weights came from, for /tts/health
    device: str
    source: str
    #: whether a job may ask for a window of its frames (`ChunkJob.frames_from`, `frames_to`): the
    #: model's front is run on the whole chunk, its decoder on the window and some context around it
    decodes_windows: bool

    def render_many(self, jobs: Sequence[ChunkJob]) -> list[ChunkAudio]:
        """A batch of chunks, from one request or many, in the order given."""
        ...


def decoded_span(start: int, end: int, frame_count: int, context: int = WINDOW_CONTEXT_FRAMES) -> tuple[int, int]:
    """The frames decoded to give frames [start, end): `context` more on each side, within the chunk."""
    return max(0, start - context), min(frame_count, end + context)


def silence(seconds: float) -> ChunkAudio:
    """A pause's audio: no model, no tokens (so two durations, the start and end tokens', of 0)."""
    return ChunkAudio(pcm16=bytes(2 * round(seconds * SAMPLE_RATE)), frames=[0, 0])


def finish(samples: np.ndarray, frames: np.ndarray, frames_from: int = 0, fade_out: bool = True) -> ChunkAudio:
    """The model's float samples faded at the edges and rounded to PCM16: audio's one float -> int16 step.

    A window of a chunk's frames is faded only at the chunk's own edges (it starts the chunk at
    frame 0; `fade_out`: it ends it): inside the chunk, windows join with no fade between them."""
    faded = fade_edges(samples, fade_in=frames_from == 0, fade_out=fade_out)
    return ChunkAudio(pcm16=to_pcm16(faded).astype("<i2").tobytes(), frames=frames.tolist(), frames_from=frames_from)


def fade_edges(samples: np.ndarray, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    length = min(FADE_SAMPLES, samples.shape[0] // 2)
    if length == 0 or not (fade_in or fade_out):
        return samples
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
    faded = samples.copy()
    if fade_in:
        faded[:length] *= ramp
    if fade_out:
        faded[-length:] *= ramp[::-1]
    return faded
