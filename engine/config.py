"""Kokoro-82M v1.0's config.json, shipped beside the engine: the vocabulary the G2P side maps
phonemes with, and the shapes the model is built from. Reading it needs no torch."""

import json
from importlib import resources
from typing import Any


def kokoro_config() -> dict[str, Any]:
    """Kokoro-82M v1.0's config.json (hidden 512, style 128, 178 tokens, PL-BERT 768x12)."""
    return json.loads(resources.files(__package__).joinpath("kokoro_config.json").read_text())
