"""The OCI image, built with podman and started with no network, speaks (deploy/image/build.sh).

Marked `image`: it needs root, podman and a few minutes per variant, so the README's test command
leaves it out and CI runs it on its own after the suite (.ci/run). The variant derivation is
checked here without a build.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.image.variant import CUDA_ONLY, cpu_lock, write_variant

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "image" / "build.sh"
REPORT = re.compile(
    r"\[image\] (?P<variant>\w+): image size (?P<gb>[\d.]+) GB; ready (?P<ready>[\d.]+) s after start "
    r"\(--network none\); health healthy .*POST /tts/: (?P<audio>[\d.]+) s of audio at 24000 Hz, 8 words"
)


def test_the_cpu_lock_is_the_gpu_lock_without_cuda_wheels():
    gpu = (ROOT / "requirements.lock").read_text()
    cpu, version = cpu_lock(gpu)
    assert f"torch=={version}+cpu" in cpu.splitlines()
    assert not any(CUDA_ONLY.match(line) for line in cpu.splitlines())
    kept = {line for line in gpu.splitlines() if "==" in line and not CUDA_ONLY.match(line)}
    assert kept - {f"torch=={version}"} <= set(cpu.splitlines())
    assert len([line for line in gpu.splitlines() if CUDA_ONLY.match(line)]) >= 10  # the NVIDIA runtime


def test_the_cpu_bentofile_changes_only_the_requirements():
    import yaml

    gpu = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    cpu = yaml.safe_load((ROOT / write_variant("cpu")).read_text())
    assert cpu["python"].pop("requirements_txt") != gpu["python"].pop("requirements_txt")
    cpu["python"].pop("wheels", None)
    cpu["labels"].pop("variant")
    assert cpu == gpu
    assert write_variant("gpu") == Path("bentofile.yaml")


@pytest.mark.image
@pytest.mark.parametrize("variant", ["gpu", "cpu"])
def test_the_image_speaks_with_no_network(variant):
    if not shutil.which("podman"):
        pytest.fail("podman is not installed: .ci/run installs it (see deploy/image/build.sh)")
    done = subprocess.run([str(BUILD), variant], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = REPORT.search(done.stdout)
    assert report and report["variant"] == variant, done.stdout[-2000:]
    assert 1.0 < float(report["audio"]) < 10


def test_the_kubernetes_deployment_names_the_gpu_image_as_built():
    import yaml

    version = re.search(r'VERSION="\$\{IMAGE_VERSION:-([^}]+)\}"', BUILD.read_text())[1]
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(f"/kokoro-tts:{version}-gpu")
    assert container["ports"][0]["containerPort"] == 3000  # BentoML's port in the image (EXPOSE 3000)
