"""What a live server's /metrics says, for tests that assert order on it rather than on time."""

import re

import requests


def chunks_rendered(server: str) -> float:
    """Chunks the synthesizers have rendered so far, summed over lanes."""
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^tts_chunks_rendered_total\{[^}]*\} (\S+)$", metrics, re.MULTILINE))
