"""KModel construction: from a config and a state dict, on the device chosen once at start.

kokoro's KModel downloads its checkpoint from the hub unless handed one, so it is built here
from the config with an empty checkpoint and then loaded strictly: every key filled, none
invented.
"""

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from kokoro.model import KModel

REPO_ID = "hexgrad/Kokoro-82M"


def empty_kmodel(config: Mapping[str, Any]) -> KModel:
    """A KModel with the config's shapes and untrained weights; nothing is downloaded."""
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.pth"
        torch.save({}, empty)
        return KModel(repo_id=REPO_ID, config=dict(config), model=str(empty))


def load_kmodel(config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], device: str) -> KModel:
    model = empty_kmodel(config)
    model.load_state_dict(state_dict, strict=True)
    return model.to(device).eval()
