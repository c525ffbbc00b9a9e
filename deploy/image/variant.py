"""The bentofile for an image variant: cpu is bentofile.yaml as it is, gpu is derived from it.

    python -m deploy.image.variant cpu|gpu    # prints the bentofile's path, relative to the project

gpu is the same bento with requirements-gpu.lock (on Linux x86_64 PyPI's torch is the CUDA build,
and the lock pins the NVIDIA runtime wheels it needs, with kokoro's model), the weights converted
for torch packed in as the BentoML model kokoro-82m (deploy/pack_weights.py saves it first), and
the device left to the image (`auto`: the GPU where one is visible).
"""

import copy
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: the BentoML model deploy/pack_weights.py saves (service.WEIGHTS_MODEL)
WEIGHTS_MODEL = "kokoro-82m"
GPU_LOCK = "./requirements-gpu.lock"
#: what the GPU image sets beyond the CPU bento's envs: the torch backend's weights are the
#: bento's own model (a folder source, the hub is never probed), and CUDA where it is visible
GPU_ENVS = {"KOKORO_WEIGHTS": "auto", "KOKORO_DEVICE": "auto"}
#: where the derived file goes: BentoML reads a bento's files from inside its build context only,
#: and not from hidden folders (ignored by git; the bento's src lists what it includes)
BUILD = ROOT / "build" / "image"


def gpu_config(cpu: dict) -> dict:
    config = copy.deepcopy(cpu)
    config["python"]["requirements_txt"] = GPU_LOCK
    config["models"] = [WEIGHTS_MODEL]
    config.setdefault("labels", {})["variant"] = "gpu"
    envs = {env["name"]: env["value"] for env in config.get("envs", [])} | GPU_ENVS
    config["envs"] = [{"name": name, "value": value} for name, value in envs.items()]
    return config


def write_variant(variant: str) -> Path:
    source = ROOT / "bentofile.yaml"
    if variant == "cpu":
        return source.relative_to(ROOT)
    if variant != "gpu":
        raise SystemExit(f"unknown variant {variant!r}: cpu or gpu")
    BUILD.mkdir(parents=True, exist_ok=True)
    bentofile = BUILD / "bentofile.gpu.yaml"
    bentofile.write_text(yaml.safe_dump(gpu_config(yaml.safe_load(source.read_text())), sort_keys=False))
    return bentofile.relative_to(ROOT)


if __name__ == "__main__":
    print(write_variant(sys.argv[1]))
