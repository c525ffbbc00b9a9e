"""The engine assembled from settings: model on its device, voices, G2P, planner.

One `KokoroEngine` per process. The HTTP face uses its planner; the synthesizer its `render`;
scripts and tests use `speak`, which does both in-process.
"""

import logging
from collections.abc import Iterator, Sequence

from kokoro.model import KModel

from .languages import Phonemizers
from .model import choose_device
from .settings import Settings
from .speech import SpeechPlanner, SpokenChunk, speak
from .synthesis import Rendered, render
from .voices import VoiceLibrary
from .weights import load_model

log = logging.getLogger(__name__)


class KokoroEngine:
    def __init__(self, model: KModel, source: str, voices: VoiceLibrary, max_text_chars: int):
        self.model = model
        self.source = source
        self.voices = voices
        self.planner = SpeechPlanner(voices, Phonemizers(), model.vocab, max_text_chars)

    @classmethod
    def from_settings(cls, settings: Settings) -> "KokoroEngine":
        device = choose_device(settings.device)
        loaded = load_model(settings.weights, settings.model_dir, settings.cache_dir, device)
        log.info("Kokoro-82M loaded from %s on %s", loaded.source, device)
        return cls(loaded.model, loaded.source, VoiceLibrary(settings.voices_dir), settings.max_text_chars)

    @property
    def device(self) -> str:
        return str(self.model.device)

    def render(self, token_ids: Sequence[int], voice: str, speed: float) -> Rendered:
        return render(self.model, token_ids, self.voices.style(voice, len(token_ids)), speed)

    def speak(self, text: str, voice: str, speed: float = 1.0, lang: str | None = None) -> Iterator[SpokenChunk]:
        return speak(self.planner, self.render, text, voice, speed, lang)
