#!/usr/bin/env bash
# benchmarks/gpu/run.sh's whole procedure on this machine's CPU, as it runs on the GPU host: a fresh
# venv holding only what the GPU image holds (device-image.txt), the bundles packed for its
# Python and received one by one, then `bench quick`. Takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${REHEARSAL_DIR:-/tmp/kokoro-gpu-rehearsal}"
rm -rf "$work"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-deps -r benchmarks/gpu/device-image.txt
version="$("$work/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$work/venv/bin/python" -m benchmarks.gpu.pack --python-version "$version"
export GPU_HOME="$work/home" PYTHON="$work/venv/bin/python" OUT="$work/out"
for bundle in .gpu/"$version"/bundle-*; do
  bash benchmarks/gpu/run.sh receive "$bundle"
done
bash benchmarks/gpu/run.sh bench quick
echo "rehearsal passed; outputs in $OUT"
