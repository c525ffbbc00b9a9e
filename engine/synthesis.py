"""Synthesis: token ids and a style vector -> PCM16 audio and per-token durations, through KModel.

This is the one place that runs the model. It takes plain data (ids, style, speed) so that a
separate process can run it for many requests, and returns plain arrays. The model's float
samples become PCM16 here, once (`finish`), for the single pass and the batched one alike.
"""

import contextlib
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from kokoro.model import KModel

from .audio import to_pcm16
from .timing import SAMPLES_PER_FRAME

#: 5 ms fades at each chunk's ends keep the joins between chunks free of clicks; the
#: length is unchanged, so word timings are unaffected.
FADE_SAMPLES = 120


@dataclass(frozen=True)
class Rendered:
    pcm16: np.ndarray  # int16, 24 kHz mono, edges faded
    frames: np.ndarray  # int64 pred_dur per input token, start and end tokens included


def render(model: KModel, token_ids: Sequence[int], style: torch.Tensor, speed: float) -> Rendered:
    return finish(*forward(model, token_ids, style, speed))


def forward(
    model: KModel, token_ids: Sequence[int], style: torch.Tensor, speed: float
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk through the model as it is: (float32 samples, int64 pred_dur), as
    `batching.forward_batch` gives each item; `render` finishes them."""
    input_ids = torch.tensor([[0, *token_ids, 0]], dtype=torch.long, device=model.device)
    with torch.inference_mode(), chunk_noise(token_ids, model.device):
        audio, pred_dur = model.forward_with_tokens(input_ids, style.to(model.device), speed)
    frames = pred_dur.reshape(-1).cpu().numpy().astype(np.int64)
    samples = audio.reshape(-1).float().cpu().numpy()
    if samples.shape[0] != frames.sum() * SAMPLES_PER_FRAME:
        raise RuntimeError(f"model gave {samples.shape[0]} samples for {frames.sum()} frames")
    return samples, frames


def finish(samples: np.ndarray, frames: np.ndarray) -> Rendered:
    """The model's float samples faded at the edges and rounded to PCM16: audio's one float -> int16 step."""
    return Rendered(to_pcm16(fade_edges(samples)), frames)


@contextlib.contextmanager
def chunk_noise(token_ids: Sequence[int], device: torch.device) -> Iterator[None]:
    """Seeds torch's generator from the chunk's tokens for the model call inside, then restores it.

    Kokoro's harmonic-plus-noise source is the model's only randomness: unseeded, the same request
    gives different samples on every call. Seeded per chunk, the audio is a function of the request
    (the same request gives the same bytes, so responses can be cached and compared, through a
    proxy too), and a chunk sounds the same alone or in a batch with others.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(zlib.crc32(np.asarray(token_ids, dtype=np.int64).tobytes()))
        yield


def fade_edges(samples: np.ndarray) -> np.ndarray:
    length = min(FADE_SAMPLES, samples.shape[0] // 2)
    if length == 0:
        return samples
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
    faded = samples.copy()
    faded[:length] *= ramp
    faded[-length:] *= ramp[::-1]
    return faded
