#!/usr/bin/env bash
# Start the Kokoro TTS API: TTS_HOST (default 127.0.0.1), TTS_PORT (default 5000), TTS_DEBUG.
set -euo pipefail
cd "$(dirname "$0")"
args=(service:KokoroTTS --host "${TTS_HOST:-127.0.0.1}" --port "${TTS_PORT:-5000}")
case "${TTS_DEBUG:-false}" in
  1|true|TRUE|True|yes) args+=(--verbose) ;;
esac
# glibc gives each thread that allocates its own malloc arena, and keeps what each arena once
# held: the HTTP face runs G2P and encoding on a pool of threads. Two arenas bound that growth.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
BENTOML="${BENTOML:-$(command -v bentoml || echo .venv/bin/bentoml)}"
exec "$BENTOML" serve "${args[@]}"
