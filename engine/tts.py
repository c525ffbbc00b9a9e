"""The engine assembled from settings: model on its device, voices, G2P, planner.

One `KokoroEngine` per process. The HTTP face uses its planner; the synthesizer its `render`;
scripts and tests use `speak`, which does both in-process.
"""

import logging
from collections.abc import Iterator, Sequence

from kokoro.model import KModel

from .batching import BatchItem, forward_batch, group_by_length
from .languages import Phonemizers
from .model import choose_device
from .settings import Settings
from .speech import SpeechPlanner, SpokenChunk, speak
from .synthesis import Rendered, finish, render
from .voices import VoiceLibrary
from .weights import load_model

log = logging.getLogger(__name__)

#: token ids, voice, speed
ChunkRequest = tuple[Sequence[int], str, float]


class KokoroEngine:
    def __init__(
        self,
        model: KModel,
        source: str,
        voices: VoiceLibrary,
        max_text_chars: int,
        batched_stages: str = "off",
        max_batch_frames: int = Settings.max_batch_frames,
    ):
        """`batched_stages`: 'all', 'front' or 'off', see Settings.batched_forward."""
        self.model = model
        self.source = source
        self.voices = voices
        self.planner = SpeechPlanner(voices, Phonemizers(), model.vocab, max_text_chars)
        self.batched_stages = batched_stages
        self.max_batch_frames = max_batch_frames

    @classmethod
    def from_settings(cls, settings: Settings) -> "KokoroEngine":
        device = choose_device(settings.device)
        loaded = load_model(settings.weights, settings.model_dir, settings.cache_dir, device)
        log.info("Kokoro-82M loaded from %s on %s", loaded.source, device)
        batched_stages = settings.batched_stages_for(device)
        log.info("batched stages of the forward pass: %s", batched_stages)
        return cls(
            loaded.model,
            loaded.source,
            VoiceLibrary(settings.voices_dir),
            settings.max_text_chars,
            batched_stages,
            settings.max_batch_frames,
        )

    @property
    def device(self) -> str:
        return str(self.model.device)

    def render(self, token_ids: Sequence[int], voice: str, speed: float) -> Rendered:
        return render(self.model, token_ids, self.voices.style(voice, len(token_ids)), speed)

    def render_many(self, jobs: Sequence[ChunkRequest]) -> list[Rendered]:
        """A batch of chunks, from one request or many, in the order given."""
        if self.batched_stages == "off" or len(jobs) < 2:
            return [self.render(*job) for job in jobs]
        items = [BatchItem(ids, self.voices.style(voice, len(ids)), speed) for ids, voice, speed in jobs]
        results: list[Rendered | None] = [None] * len(items)
        for group in group_by_length(items, self.max_batch_frames):
            batch = forward_batch(self.model, [items[i] for i in group], batch_decoder=self.batched_stages == "all")
            for index, (samples, frames) in zip(group, batch, strict=True):
                results[index] = finish(samples, frames)
        return [result for result in results if result is not None]

    def speak(self, text: str, voice: str, speed: float = 1.0, lang: str | None = None) -> Iterator[SpokenChunk]:
        return speak(self.planner, self.render, text, voice, speed, lang)
