"""Voices: name -> style vector. A name is a key, never a path.

Voice packs are the .pt files found in a folder at start (name = file stem), each a float32
tensor of shape [510, 1, 256] whose row n styles a chunk of n phonemes. A request may blend
voices by joining names with commas ("af_bella,af_sky"): their packs are averaged.

Packs are read into numpy without torch (see `read_pack`): the onnxruntime synthesizer and the
HTTP face never import it.
"""

import collections
import pickle
import re
import threading
import zipfile
from pathlib import Path

import numpy as np

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
        self._packs: dict[str, np.ndarray] = {}
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

    def style(self, voice: str, phoneme_count: int) -> np.ndarray:
        """The float32 [1, 256] style vector for a chunk of `phoneme_count` phonemes."""
        packs = [self._pack(name) for name in self.validate(voice)]
        pack = packs[0] if len(packs) == 1 else np.mean(packs, axis=0, dtype=np.float32)
        return pack[min(max(phoneme_count, 1), PACK_SHAPE[0]) - 1]

    def _pack(self, name: str) -> np.ndarray:
        with self._lock:
            if name not in self._packs:
                pack = read_pack(self._files[name])
                if pack.shape != PACK_SHAPE:
                    raise EngineError(f"voice pack '{name}' has shape {pack.shape}, expected {PACK_SHAPE}")
                self._packs[name] = pack.astype(np.float32, copy=False)
            return self._packs[name]


#: the storage classes a voice pack may hold, as numpy types (torch writes them little-endian)
_STORAGE_TYPES = {"FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "BFloat16Storage": None}


def read_pack(path: Path) -> np.ndarray:
    """One tensor saved by `torch.save`, read as numpy.

    torch's format is a zip holding a pickle whose tensors point at raw storages beside it. The
    unpickler builds only what a saved tensor needs, as torch's own `weights_only` loader does, so
    a file that holds anything else is refused rather than run."""
    with zipfile.ZipFile(path) as archive:
        pickled = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        if pickled is None:
            raise EngineError(f"{path.name} is not a torch-saved tensor")
        root = pickled.removesuffix("data.pkl")

        def storage(kind: str, key: str) -> np.ndarray:
            dtype = _STORAGE_TYPES.get(kind)
            if dtype is None:
                raise EngineError(f"{path.name} holds a {kind}, which a voice pack cannot be")
            return np.frombuffer(archive.read(f"{root}data/{key}"), dtype=dtype)

        pack = _PackUnpickler(archive.open(pickled), storage).load()
    if not isinstance(pack, np.ndarray):
        raise EngineError(f"{path.name} holds a {type(pack).__name__}, not a tensor")
    return pack


class _PackUnpickler(pickle.Unpickler):
    def __init__(self, file, storage):
        super().__init__(file)
        self._storage = storage

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_TYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"a voice pack may not hold {module}.{name}")

    def persistent_load(self, pid: tuple) -> np.ndarray:
        kind, storage_kind, key, _location, _numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return self._storage(storage_kind, key)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: object) -> np.ndarray:
    strides = tuple(step * storage.itemsize for step in stride)
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=strides).copy()
