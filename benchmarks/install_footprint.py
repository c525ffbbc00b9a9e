"""What the README's serve command installs, before and after the CPU install left torch out.

For each install, in one run on one machine: a fresh virtualenv, `pip install -r FILE` timed,
the venv's size on disk, and whether torch, kokoro or transformers are in it. "before" is
requirements-gpu.txt: the CPU server's packages plus torch and kokoro, which is what the README's
first command installed while the CPU server still came with them (on this kind of machine the
CPU build of torch; on an ordinary Linux machine PyPI's torch is the CUDA build and several GB
more). "after" is requirements.txt. The "after" venv then serves with `./serve.sh` from a cold
start (an empty cache: the export is prepared on the way), answers the HTTP contract's core calls,
and its process tree's memory is read after them.

    python -m benchmarks.install_footprint            # about 4 minutes on 2 cores
"""

import argparse
import base64
import io
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import soundfile

from load_tests.soak import server_root, tree_rss_mb
from tests.live import free_port, live_server

ROOT = Path(__file__).resolve().parent.parent
INSTALLS = {"before": "requirements-gpu.txt", "after": "requirements.txt"}
TORCH_PATH = ("torch", "kokoro", "transformers")
#: the venv may be at most this big (the goal for the CPU install)
GOAL_BYTES = 1.2e9
SENTENCE = "The lean install speaks 25 words a second, or so we hope."


def install(requirements: str, venv: Path) -> dict:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-cache-dir", "-r", str(ROOT / requirements)],
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze"], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    size = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())
    return {"seconds": seconds, "bytes": size, "packages": len(names), "torch path": sorted(set(TORCH_PATH) & names)}


def contract(base: str) -> list[str]:
    """The HTTP contract's core calls; returns what failed (nothing, when it holds)."""
    failed = []
    health = requests.get(f"{base}/tts/health", timeout=10).json()
    if health.get("status") != "healthy" or health.get("voices_available") != 54:
        failed.append(f"health: {health}")
    voices = requests.get(f"{base}/tts/voices", timeout=10).json()
    if voices.get("count") != 54 or "af_heart" not in voices.get("voices", []):
        failed.append("voices")
    reply = requests.post(f"{base}/tts/", json={"text": SENTENCE, "voice": "af_heart"}, timeout=120).json()
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(reply["audio"])))
    words = [w["word"] for w in reply["word_timestamps"] if re.search(r"\w", w["word"])]
    if rate != 24_000 or abs(len(samples) / rate - reply["total_duration"]) > 0.05 or abs(samples).max() < 0.05:
        failed.append("POST /tts/: audio")
    if words != re.findall(r"[\w']+", SENTENCE):
        failed.append(f"POST /tts/: words {words}")
    streamed = requests.post(
        f"{base}/tts/", json={"text": SENTENCE, "voice": "bm_george", "include_timestamps": False}, timeout=120
    )
    if streamed.headers.get("content-type") != "audio/wav" or streamed.headers.get("x-voice") != "bm_george":
        failed.append(f"stream headers {dict(streamed.headers)}")
    if len(streamed.content) < 24_000:
        failed.append("stream body")
    unknown = requests.post(f"{base}/tts/", json={"text": "Hi.", "voice": "xx_none"}, timeout=10)
    if unknown.status_code != 400 or not unknown.json()["error"].startswith("Voice 'xx_none' not found."):
        failed.append(f"unknown voice: {unknown.status_code} {unknown.text[:120]}")
    return failed


def serve(venv: Path, scratch: Path) -> dict:
    port = free_port()
    env = {"BENTOML_HOME": str(scratch / "bentoml"), "KOKORO_CACHE_DIR": str(scratch / "cache")}
    started = time.monotonic()
    with live_server(port, scratch / "serve.log", env, bin_dir=venv / "bin") as base:
        healthy_s = time.monotonic() - started
        failed = contract(base)
        rss_mb, _ = tree_rss_mb(server_root(base, None))
    return {"healthy_s": healthy_s, "contract": "passes" if not failed else "; ".join(failed), "rss": rss_mb * 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="install-footprint-") as scratch:
        scratch = Path(scratch)
        measured = {name: install(requirements, scratch / name) for name, requirements in INSTALLS.items()}
        served = serve(scratch / "after", scratch)
    before, after = measured["before"], measured["after"]
    print(f"{'':28} {'before':>24} {'after':>24}   after/before")
    print(f"{'requirements':28} {INSTALLS['before']:>24} {INSTALLS['after']:>24}")
    for what, key, scale, unit in (("install time", "seconds", 1, "s"), ("venv size", "bytes", 1e9, "GB")):
        ratio = after[key] / before[key]
        print(f"{what:28} {before[key] / scale:>21.2f} {unit:>2} {after[key] / scale:>21.2f} {unit:>2}   {ratio:.2f}x")
    print(f"{'packages':28} {before['packages']:>24} {after['packages']:>24}")
    shown = {name: ", ".join(m["torch path"]) or "none" for name, m in measured.items()}
    print(f"{'torch, kokoro, transformers':28} {shown['before']:>24} {shown['after']:>24}")
    print(
        f"after: first start to healthy {served['healthy_s']:.1f} s (cold cache); HTTP contract {served['contract']};"
        f" server RSS after the calls {served['rss'] / 1e9:.2f} GB"
    )
    goal = "met" if after["bytes"] <= GOAL_BYTES and not after["torch path"] else "MISSED"
    print(f"goal (venv <= {GOAL_BYTES / 1e9:.1f} GB, no torch path): {goal}")


if __name__ == "__main__":
    main()
