"""Voices: name -> style vector. A name is a key, never a path.

Voice packs are the .pt files found in a folder at start (name = file stem), each a float32
tensor of shape [510, 1, 256] whose row n styles a chunk of n phonemes. A request may blend
voices by joining names with commas or pluses ("af_bella,af_sky", "af_bella+af_sky", as kokoro
and other Kokoro servers write them), each weighted by a number in brackets or 1
("af_bella(2)+af_sky(1)"): their packs' weighted mean.

Packs are read into numpy without torch (see `read_pack`): the onnxruntime synthesizer and the
HTTP face never import it.
"""

import collections
import math
import pickle
import re
import reprlib
import threading
import zipfile
from pathlib import Path

import numpy as np

from .errors import EngineError, InvalidInput, UnknownVoice

VOICE_NAME = re.compile(r"^[a-z][a-z]_[a-z0-9_]+$")
PACK_SHAPE = (510, 1, 256)
MAX_BLEND = 4
#: a part of a blend: a voice name and, in brackets, its weight ("af_bella(2)"); neither holds a
#: bracket, so each is matched in one pass, and the spaces around them are stripped after
_BLEND_PART = re.compile(r"(?P<name>[^()]*)(?:\((?P<weight>[^()]*)\))?")
#: a weight as written: ASCII digits with a decimal point or not (not "1e3", "inf", "٢")
_WEIGHT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


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
        return [name for name, _ in self.blend(voice)]

    def blend(self, voice: str) -> list[tuple[str, float]]:
        """Each voice of a request's `voice` field with its weight; raises if a voice is unknown
        or a weight is not a number above 0."""
        parts = re.split(r"[,+]", voice)
        if len(parts) > MAX_BLEND:
            raise InvalidInput(f"a blend may join at most {MAX_BLEND} voices; got {len(parts)}")
        blend = []
        for part in parts:
            found = _BLEND_PART.fullmatch(part.strip())
            name = found["name"].strip() if found else part.strip()
            if name not in self._files:
                raise UnknownVoice(name, self.names)
            written = None if found["weight"] is None else found["weight"].strip()
            weight = 1.0 if written is None else float(written) if _WEIGHT.fullmatch(written) else math.nan
            if not (0 < weight < math.inf):
                raise InvalidInput(f"a voice's weight is a number above 0, as in af_bella(2); got '{part.strip()}'")
            blend.append((name, weight))
        return blend

    def style(self, voice: str, phoneme_count: int) -> np.ndarray:
        """The float32 [1, 256] style vector for a chunk of `phoneme_count` phonemes."""
        row = min(max(phoneme_count, 1), PACK_SHAPE[0]) - 1
        blend = self.blend(voice)
        if len(blend) == 1:
            return self._pack(blend[0][0])[row]
        rows = [self._pack(name)[row] for name, _ in blend]
        return np.average(rows, axis=0, weights=[weight for _, weight in blend]).astype(np.float32)

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
#: a pack has 3 dimensions; a tensor with more than this many is a crafted file
_MAX_DIMENSIONS = 8


def read_pack(path: Path) -> np.ndarray:
    """One tensor saved by `torch.save`, read as numpy.

    torch's format is a zip holding a pickle whose tensors point at raw storages beside it. The
    unpickler builds only what a saved tensor needs, as torch's own `weights_only` loader does, so
    a file that holds anything else is refused rather than run. The storages' lengths and the
    tensors' offsets, sizes and strides are numbers a file may forge, and numpy's strided view
    trusts them: each is checked first, so that no tensor reads a byte outside its storage."""
    with zipfile.ZipFile(path) as archive:
        pickled = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        if pickled is None:
            raise EngineError(f"{path.name} is not a torch-saved tensor")
        root = pickled.removesuffix("data.pkl")
        try:
            if f"{root}byteorder" in archive.namelist() and archive.read(f"{root}byteorder") != b"little":
                raise _Refused("was saved big-endian")
            pack = _PackUnpickler(archive, root).load()
        except _Refused as refusal:
            raise EngineError(
                f"voice pack {path.name} {refusal}; save a voice as torch.save(style.float().contiguous(), path)"
            ) from None
    if not isinstance(pack, np.ndarray):
        raise EngineError(f"{path.name} holds a {type(pack).__name__}, not a tensor")
    return pack


class _Refused(Exception):
    """What is wrong with a pack, said of it ("has ..."); read_pack names the file and the fix."""


class _PackUnpickler(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, root: str):
        super().__init__(archive.open(f"{root}data.pkl"))
        self._archive = archive
        self._root = root

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return name  # only a name: persistent_load refuses the kinds a pack cannot be
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"a voice pack may not hold {module}.{name}")

    def persistent_load(self, pid: object) -> np.ndarray:
        """A storage: ('storage', its class, its record's key, its device, its element count)."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"a voice pack may not hold the persistent id {reprlib.repr(pid)}")
        _, kind, key, _device, count = pid
        dtype = _STORAGE_TYPES.get(kind) if isinstance(kind, str) else None
        if dtype is None:
            known = ", ".join(name for name, known_dtype in _STORAGE_TYPES.items() if known_dtype)
            raise _Refused(f"holds a {reprlib.repr(kind)} storage; a voice pack's is one of {known}")
        record = f"{self._root}data/{key}"
        if not isinstance(key, str) or record not in self._archive.namelist():
            raise _Refused(f"has no storage record {reprlib.repr(key)}")
        itemsize = np.dtype(dtype).itemsize
        stored = self._archive.getinfo(record).file_size
        if not _is_count(count) or stored != count * itemsize:
            raise _Refused(
                f"declares {reprlib.repr(count)} elements of {itemsize} bytes in a storage of {stored} bytes"
            )
        return np.frombuffer(self._archive.read(record), dtype=dtype)


def _rebuild_tensor(storage: object, offset: object, size: object, stride: object, *_: object) -> np.ndarray:
    """torch's `_rebuild_tensor_v2`, for a view that lies wholly inside its storage.

    Views torch makes are read as torch reads them: out of order (a transposed tensor), with a
    stride of 0 (an expanded one), or with any stride on a dimension of one, which is never
    stepped. Negative strides, which torch never saves, are refused."""
    if not isinstance(storage, np.ndarray):
        raise _Refused(f"builds a tensor on a {type(storage).__name__}, not on one of its storages")
    length = storage.size
    if not (_is_count(offset) and offset <= length):
        raise _Refused(f"has a tensor at offset {reprlib.repr(offset)} of a storage of {length} elements")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride) <= _MAX_DIMENSIONS):
        raise _Refused(f"has a tensor of size {reprlib.repr(size)} and stride {reprlib.repr(stride)}")
    if not all(_is_count(count) and count <= length for count in size):
        raise _Refused(f"has a tensor of size {reprlib.repr(size)} on a storage of {length} elements")
    if not all(map(_is_count, stride)):
        raise _Refused(f"has a tensor of stride {reprlib.repr(stride)}")
    elements = math.prod(size)
    if elements > length - offset:
        raise _Refused(f"has a tensor of {elements} elements at offset {offset} of a storage of {length}")
    if not elements:
        return np.empty(size, storage.dtype)
    last = offset + sum((count - 1) * step for count, step in zip(size, stride, strict=True))
    if last >= length:
        raise _Refused(f"has a tensor of size {size} and stride {stride} reaching element {last} of {length}")
    strides = tuple(step * storage.itemsize if count > 1 else 0 for count, step in zip(size, stride, strict=True))
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=strides).copy()


def _is_count(value: object) -> bool:
    """A whole number of elements: an int (not a bool) of 0 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
