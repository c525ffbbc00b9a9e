#!/usr/bin/env bash
# Regenerate requirements.lock: every package the image installs, pinned with ==.
#
# Why uv: `uv pip compile` resolves for a target platform from package metadata alone, so the
# lock is made for the image (Linux x86_64, CPython 3.11) on any machine, without downloading
# torch's CUDA wheels. On that platform PyPI's torch==2.13.0 is the CUDA 13.0 build, so the lock
# also pins the NVIDIA runtime wheels it needs (cuda-toolkit, nvidia-*, triton): the same image
# runs on a GPU host and, falling back to the CPU, anywhere else. requirements.txt stays the
# source of truth (CI installs it, with this workplace's CPU torch 2.13.0); this only freezes the
# transitive closure for `bentoml build`.
#
#   .venv/bin/pip install uv==0.13.8 && deploy/lock.sh            # x86_64 image (default)
#   LOCK_PLATFORM=aarch64-manylinux_2_28 deploy/lock.sh           # arm64 GPU hosts (e.g. GH200)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-$(command -v uv || echo .venv/bin/uv)}"
PLATFORM="${LOCK_PLATFORM:-x86_64-manylinux_2_28}"
body="$("$UV" pip compile requirements.txt --python-version 3.11 --python-platform "$PLATFORM" \
  --no-header --no-annotate --quiet)"
{
  echo "# Exact versions of everything the bento installs (CPython 3.11, $PLATFORM)."
  echo "# Generated from requirements.txt by deploy/lock.sh; do not edit by hand, regenerate."
  echo "$body"
} > requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pins for $PLATFORM)"
