#!/usr/bin/env bash
# Regenerate the locks the images install: every package, pinned with ==.
#
#   requirements.lock      <- requirements.txt       the CPU image (onnxruntime; no torch)
#   requirements-gpu.lock  <- requirements-gpu.txt   the GPU image (adds CUDA torch and kokoro)
#
# Why uv: `uv pip compile` resolves for a target platform from package metadata alone, so the
# locks are made for the image (Linux x86_64, CPython 3.11) on any machine, without downloading
# torch's CUDA wheels. On that platform PyPI's torch==2.13.0 is the CUDA 13.0 build, so the GPU
# lock also pins the NVIDIA runtime wheels it needs (cuda-toolkit, nvidia-*, triton). The
# requirements files stay the source of truth; the locks only freeze their transitive closures
# for `bentoml build`.
#
#   .venv/bin/pip install uv==0.13.8 && deploy/lock.sh            # x86_64 images (default)
#   LOCK_PLATFORM=aarch64-manylinux_2_28 deploy/lock.sh           # arm64 hosts (e.g. GH200)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-$(command -v uv || echo .venv/bin/uv)}"
PLATFORM="${LOCK_PLATFORM:-x86_64-manylinux_2_28}"

lock() {
  local source=$1 target=$2 body
  # -o: uv keeps the versions the target already pins wherever the requirements still allow them
  "$UV" pip compile "$source" --python-version 3.11 --python-platform "$PLATFORM" \
    --no-header --no-annotate --quiet -o "$target"
  body="$(grep -v '^#' "$target")"
  {
    echo "# Exact versions of everything the bento installs (CPython 3.11, $PLATFORM)."
    echo "# Generated from $source by deploy/lock.sh; do not edit by hand, regenerate."
    echo "$body"
  } > "$target"
  echo "wrote $target ($(grep -c '==' "$target") pins for $PLATFORM)"
}

lock requirements.txt requirements.lock
lock requirements-gpu.txt requirements-gpu.lock
