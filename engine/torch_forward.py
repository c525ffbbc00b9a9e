"""One chunk through kokoro's KModel in torch: token ids and a style in, float samples and
per-token durations out, with the chunk's noise seeded from its tokens."""

import contextlib
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from kokoro.model import KModel

from .synthesis import ChunkAudio, finish
from .timing import SAMPLES_PER_FRAME


def render(model: KModel, token_ids: Sequence[int], style: torch.Tensor, speed: float) -> ChunkAudio:
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
