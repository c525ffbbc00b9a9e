"""Voices: name -> style tensor. A name is a key, never a path.

Voice packs are the .pt files found in a folder at start (name = file stem), each a float32
tensor of shape [510, 1, 256] whose row n styles a chunk of n phonemes. A request may blend
voices by joining names with commas ("af_bella,af_sky"): their packs are averaged.
"""

import re
import threading
from pathlib import Path

import torch

from .errors import EngineError, InvalidInput, UnknownVoice

VOICE_NAME = re.compile(r"^[a-z][a-z]_[a-z0-9_]+$")
PACK_SHAPE = (510, 1, 256)
MAX_BLEND = 4


class VoiceLibrary:
    """The voices this server can speak with, loaded lazily and kept."""

    def __init__(self, folder: Path):
        self._files = {
            path.stem: path for path in sorted(folder.glob("*.pt")) if VOICE_NAME.match(path.stem) and path.is_file()
        }
        self._packs: dict[str, torch.Tensor] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted(self._files)

    def validate(self, voice: str) -> list[str]:
        """The voice names a request's `voice` field stands for; raises if any is unknown."""
        names = [part.strip() for part in voice.split(",")]
        if len(names) > MAX_BLEND:
            raise InvalidInput(f"a blend may join at most {MAX_BLEND} voices; got {len(names)}")
        for name in names:
            if name not in self._files:
                raise UnknownVoice(name, self.names)
        return names

    def style(self, voice: str, phoneme_count: int) -> torch.Tensor:
        """The [1, 256] style vector for a chunk of `phoneme_count` phonemes."""
        packs = [self._pack(name) for name in self.validate(voice)]
        pack = packs[0] if len(packs) == 1 else torch.stack(packs).mean(0)
        return pack[min(max(phoneme_count, 1), PACK_SHAPE[0]) - 1]

    def _pack(self, name: str) -> torch.Tensor:
        with self._lock:
            if name not in self._packs:
                pack = torch.load(self._files[name], map_location="cpu", weights_only=True)
                if tuple(pack.shape) != PACK_SHAPE:
                    raise EngineError(f"voice pack '{name}' has shape {tuple(pack.shape)}, expected {PACK_SHAPE}")
                self._packs[name] = pack.float()
            return self._packs[name]
