#!/usr/bin/env bash
# Build the OCI image with podman, start it with no network, and check from inside that it speaks.
#
#   deploy/image/build.sh            # both variants: cpu (onnxruntime, no torch) and gpu (CUDA torch)
#   deploy/image/build.sh cpu        # one
#   KEEP_IMAGES=1 deploy/image/build.sh gpu   # keep the image afterwards (default: removed)
#
# For each variant, in a fresh BentoML home: `bentoml build` (cpu: bentofile.yaml; gpu: the
# bentofile deploy/image/variant.py derives from it, after packing the weights for torch), `bentoml containerize
# --backend podman`, `podman run --network none`, then inside the container (`podman exec`):
# /readyz, /tts/health and a POST /tts/ whose JSON must hold seconds of audio. Prints the image
# size, the start-to-ready time and the audio duration, then removes the container, the image and
# the build's dangling intermediate images (KEEP_IMAGES=1 keeps them).
#
# Where no container registry is reachable (an air-gapped build host), the `FROM python:3.11-slim` of
# BentoML's Dockerfile is satisfied by a stand-in built once from Debian packages (mmdebstrap) and
# cached; it trusts this host's extra CA certificates and is for testing only. Needs root and
# Debian's podman buildah runc conmon netavark aardvark-dns containernetworking-plugins
# slirp4netns uidmap mmdebstrap iptables (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [ $# -gt 0 ]; then VARIANTS=("$@"); else VARIANTS=(cpu gpu); fi
CACHE="${IMAGE_CACHE_DIR:-$HOME/.cache/kokoro-image}"
BASE=docker.io/library/python:3.11-slim
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
# the project's one version (pyproject.toml), unless IMAGE_VERSION says otherwise
VERSION="${IMAGE_VERSION:-$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}"
BENTOML="$(dirname "$PYTHON")/bentoml"
READY_TIMEOUT_S=300
export CONTAINERS_CONF="$ROOT/deploy/image/containers.conf"
export BENTOML_DO_NOT_TRACK=true

log() { printf '[image] %s\n' "$*"; }

standin_base() {
  if podman image exists "$BASE"; then
    log "base $BASE: present"
    return
  fi
  mkdir -p "$CACHE"
  if [ ! -f "$CACHE/rootfs.tar" ]; then
    log "base: mmdebstrap bookworm (cached in $CACHE)"
    rm -rf "$CACHE/rootfs.tar" "$CACHE/partial.tar"  # mmdebstrap picks its output format by suffix
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$CACHE/partial.tar"
    mv "$CACHE/partial.tar" "$CACHE/rootfs.tar"
  fi
  podman import --quiet "$CACHE/rootfs.tar" localhost/kokoro-rootfs:bookworm >/dev/null
  local context
  context="$(mktemp -d)"
  mkdir "$context/extra-ca"
  cp /usr/local/share/ca-certificates/*.crt "$context/extra-ca/" 2>/dev/null || true
  podman build --quiet --network host -f deploy/image/Containerfile.standin-base -t "$BASE" "$context" >/dev/null
  rm -rf "$context"
  log "base $BASE: stand-in built"
}

# A command run inside the container with its own Python: the image has no curl, and the
# container has no network but its loopback. Every probe carries a timeout.
in_container() {
  local name=$1
  shift
  podman exec "$name" python -c "$PROBE" "$@"
}

PROBE='
import sys, urllib.request
timeout, path, body = float(sys.argv[1]), sys.argv[2], (sys.argv[3].encode() if len(sys.argv) > 3 else None)
request = urllib.request.Request("http://127.0.0.1:3000" + path, data=body, headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=timeout) as reply:
    sys.stdout.write(reply.read().decode())
'

one_variant() {
  local variant=$1 tag="localhost/kokoro-tts:$VERSION-$1" name="kokoro-tts-check-$1-$$"
  local home
  home="$(mktemp -d)"
  export BENTOML_HOME="$home"
  if [ "$variant" = gpu ]; then
    log "$variant: pack the weights for torch"
    "$PYTHON" -m deploy.pack_weights >/dev/null 2>&1
  fi
  log "$variant: bentoml build"
  local bentofile
  bentofile="$("$PYTHON" -m deploy.image.variant "$variant")"
  "$BENTOML" build -f "$bentofile" --version "$VERSION-$variant" >/dev/null
  log "$variant: bentoml containerize (podman)"
  local started=$SECONDS
  # containerize copies the bento to a temporary folder and reads the Dockerfile template there,
  # but only from under the working directory: that folder must lie under it
  mkdir -p "$ROOT/build/containerize"
  TMPDIR="$ROOT/build/containerize" "$BENTOML" containerize "kokoro-tts:$VERSION-$variant" --backend podman \
    --opt network=host --image-tag "$tag" >"$home/containerize.log" 2>&1 || { tail -50 "$home/containerize.log"; return 1; }
  log "$variant: built in $((SECONDS - started)) s"
  # what bento_setup.sh found installed in the image: onnxruntime, and torch's build or its absence
  grep -E "^(INFO: )?(onnxruntime [0-9]|torch[ :])" "$home/containerize.log" | sed -E "s/^(INFO: )?/[image] $variant: /"
  local size
  size="$(podman image inspect --format '{{.Size}}' "$tag")"

  podman rm -f "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" --network none "$tag" >/dev/null
  local run_started ready=""
  run_started=$(date +%s%N)
  for _ in $(seq 1 $READY_TIMEOUT_S); do
    if in_container "$name" 5 /readyz >/dev/null 2>&1; then ready=yes; break; fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then break; fi
    sleep 1
  done
  local ready_ms=$((($(date +%s%N) - run_started) / 1000000))
  if [ -z "$ready" ]; then
    podman logs "$name" 2>&1 | tail -40
    podman rm -f --time 1 "$name" >/dev/null 2>&1
    log "$variant: FAIL: not ready after ${READY_TIMEOUT_S} s"
    return 1
  fi
  in_container "$name" 10 /tts/health >"$home/health.json"
  in_container "$name" 120 /tts/ '{"text": "The image speaks with no network at all.", "voice": "af_heart"}' \
    >"$home/speech.json"
  podman rm -f --time 1 "$name" >/dev/null 2>&1
  if [ "${KEEP_IMAGES:-0}" != 1 ]; then
    podman rmi -f "$tag" >/dev/null
    # the build's intermediate images (podman keeps a layer per step): GBs a run, on CI machines
    # that are reused. Dangling images only; the cached base stays.
    podman image prune -f >/dev/null
  fi
  "$PYTHON" - "$variant" "$size" "$ready_ms" "$home/health.json" "$home/speech.json" <<'PY'
import base64, io, json, sys

import soundfile

variant, size, ready_ms, health, speech = sys.argv[1:]
with open(health) as health_file, open(speech) as speech_file:
    health, speech = json.load(health_file), json.load(speech_file)
samples, rate = soundfile.read(io.BytesIO(base64.b64decode(speech["audio"])))
words = [w["word"] for w in speech["word_timestamps"] if w["word"].isalpha()]
print(f"[image] {variant}: image size {int(size) / 1e9:.2f} GB; ready {int(ready_ms) / 1000:.1f} s after start "
      f"(--network none); health {health['status']} on {health['device']} ({health['weights_source']}); "
      f"POST /tts/: {len(samples) / rate:.2f} s of audio at {rate} Hz, {len(words)} words")
assert health["status"] == "healthy" and rate == 24_000 and 1.0 < len(samples) / rate < 10, "no speech"
assert abs(samples).max() > 0.05 and len(words) == 8, "silent or words missing"
PY
  rm -rf "$home"
}

standin_base
for variant in "${VARIANTS[@]}"; do
  one_variant "$variant"
done
log "done"
