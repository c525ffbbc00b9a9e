"""The bentofile for an image variant, derived from bentofile.yaml (the one source of truth).

    python -m deploy.image.variant gpu|cpu    # prints the bentofile's path, relative to the project

gpu is bentofile.yaml as it is: on Linux x86_64 PyPI's torch is the CUDA build, and the lock
pins the NVIDIA runtime wheels it needs. cpu is the same bento with CPU torch: the lock without
the NVIDIA, CUDA and triton wheels (about 4 GB), torch pinned to its `+cpu` build. That build is
on PyTorch's CPU index, not PyPI; where pip is configured with a local copy of the wheel (a
`find-links` folder holding it, as on these CI machines) the wheel is packed into the bento,
else the bento installs it from https://download.pytorch.org/whl/cpu.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: the runtime wheels only CUDA torch needs (names as requirements.lock spells them)
CUDA_ONLY = re.compile(r"^(nvidia-[\w-]+|cuda-[\w-]+|triton)==", re.IGNORECASE)
TORCH_PIN = re.compile(r"^torch==(?P<version>[^\s+]+)$", re.MULTILINE)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: where BentoML puts a bento's own wheels inside the image (BENTO_PATH is /home/bentoml/bento)
IMAGE_WHEELS = "/home/bentoml/bento/env/python/wheels"
#: where the derived files go: BentoML reads a bento's files from inside its build context only,
#: and not from hidden folders (ignored by git; the bento's src lists what it includes)
BUILD = ROOT / "build" / "image"


def cpu_lock(gpu_lock: str) -> tuple[str, str]:
    """The lock for CPU torch, and the torch version it pins."""
    version = TORCH_PIN.search(gpu_lock)["version"]
    lines = [line for line in gpu_lock.splitlines() if not CUDA_ONLY.match(line.strip())]
    body = TORCH_PIN.sub(f"torch=={version}+cpu", "\n".join(lines))
    return body + "\n", version


def local_cpu_wheel(version: str) -> Path | None:
    """A `torch-VERSION+cpu` wheel for CPython 3.11 x86_64 in one of pip's find-links folders."""
    links = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
    ).stdout.split()
    for folder in map(Path, links):
        for wheel in folder.glob(f"torch-{version}+cpu-cp311-cp311-*x86_64.whl"):
            return wheel
    return None


def write_variant(variant: str) -> Path:
    source = ROOT / "bentofile.yaml"
    if variant == "gpu":
        return source.relative_to(ROOT)
    if variant != "cpu":
        raise SystemExit(f"unknown variant {variant!r}: gpu or cpu")
    config = yaml.safe_load(source.read_text())
    lock, version = cpu_lock((ROOT / config["python"]["requirements_txt"]).read_text())
    wheel = local_cpu_wheel(version)
    source_line = f"--find-links {IMAGE_WHEELS}" if wheel else f"--extra-index-url {CPU_INDEX}"
    BUILD.mkdir(parents=True, exist_ok=True)
    lock_path = BUILD / "requirements-cpu.lock"
    lock_path.write_text(f"# derived from requirements.lock by deploy/image/variant.py\n{source_line}\n{lock}")
    config["python"]["requirements_txt"] = str(lock_path.relative_to(ROOT))
    if wheel:
        packed = BUILD / wheel.name
        if not packed.exists():
            shutil.copy2(wheel, packed)
        config["python"]["wheels"] = [str(packed.relative_to(ROOT))]
    config.setdefault("labels", {})["variant"] = "cpu"
    bentofile = BUILD / "bentofile.cpu.yaml"
    bentofile.write_text(yaml.safe_dump(config, sort_keys=False))
    return bentofile.relative_to(ROOT)


if __name__ == "__main__":
    print(write_variant(sys.argv[1]))
