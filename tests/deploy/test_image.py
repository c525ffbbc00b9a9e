"""The OCI image, built with podman and started with no network, speaks (deploy/image/build.sh).

Marked `image`: it needs root, podman and a few minutes per variant, so the README's test command
leaves it out and CI runs it on its own after the suite (.ci/run). The variant derivation is
checked here without a build.
"""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from deploy.image.variant import WEIGHTS_MODEL, write_variant

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "image" / "build.sh"
REPORT = re.compile(
    r"\[image\] (?P<variant>\w+): image size (?P<gb>[\d.]+) GB; ready (?P<ready>[\d.]+) s after start "
    r"\(--network none\); health healthy .*POST /tts/: (?P<audio>[\d.]+) s of audio at 24000 Hz, 8 words"
)

#: what bento_setup.sh reports of torch inside each image, as build.sh passes it on
TORCH_IN_IMAGE = {
    "cpu": r"\[image\] cpu: torch: not installed",
    "gpu": r"\[image\] gpu: torch 2\.13\.0(\+cu\d+)? \(CUDA build: 13\.\d+\)",
}


@pytest.mark.unit
def test_the_gpu_bentofile_adds_torchs_lock_the_weights_and_any_device():
    cpu = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    gpu = yaml.safe_load((ROOT / write_variant("gpu")).read_text())
    assert (cpu["python"]["requirements_txt"], gpu["python"]["requirements_txt"]) == (
        "./requirements.lock",
        "./requirements-gpu.lock",
    )
    assert "models" not in cpu and gpu["models"] == [WEIGHTS_MODEL]
    cpu_envs, gpu_envs = ({e["name"]: e["value"] for e in config["envs"]} for config in (cpu, gpu))
    assert gpu_envs == cpu_envs | {"KOKORO_WEIGHTS": "auto", "KOKORO_DEVICE": "auto"}
    for config in (cpu, gpu):  # and nothing else differs
        del config["python"]["requirements_txt"], config["envs"], config["labels"]
        config.pop("models", None)
    assert gpu == cpu
    assert write_variant("cpu") == Path("bentofile.yaml")


@pytest.mark.unit
def test_the_weights_model_is_the_one_the_service_loads():
    from service import WEIGHTS_MODEL as LOADED

    assert WEIGHTS_MODEL == LOADED


@pytest.mark.image
@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_the_image_speaks_with_no_network(variant):
    if not shutil.which("podman"):
        pytest.fail("podman is not installed: .ci/run installs it (see deploy/image/build.sh)")
    done = subprocess.run([str(BUILD), variant], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = REPORT.search(done.stdout)
    assert report and report["variant"] == variant, done.stdout[-2000:]
    assert 1.0 < float(report["audio"]) < 10
    assert re.search(TORCH_IN_IMAGE[variant], done.stdout), done.stdout[-2000:]


@pytest.mark.unit
def test_the_kubernetes_deployment_names_the_gpu_image_as_built():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(f"/kokoro-tts:{version}-gpu")
    assert container["ports"][0]["containerPort"] == 3000  # BentoML's port in the image (EXPOSE 3000)
