"""/tts/stream on a 2,000-character text: the first event's time beside the JSON answer's total.

Also checks that the events' words are monotonic across chunks and that their joined audio is as
long as /tts/'s JSON answer for the same text.

    ./serve.sh &
    .venv/bin/python -m load_tests.stream_first_event --base http://127.0.0.1:5000
"""

import argparse
import base64
import json
import sys
import time

import requests

from engine.audio import SAMPLE_RATE
from load_tests.burst import TEXT

BYTES_PER_SAMPLE = 2  # format pcm: raw 16-bit mono


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    args = parser.parse_args()
    fields = {"text": TEXT[:2000], "voice": "af_heart", "format": "pcm"}

    started = time.perf_counter()
    first_s, events = None, []
    with requests.post(f"{args.base}/tts/stream", json=fields, stream=True, timeout=600) as reply:
        for line in reply.iter_lines():
            if line:
                first_s = first_s or time.perf_counter() - started
                events.append(json.loads(line))
    stream_s = time.perf_counter() - started
    started = time.perf_counter()
    whole = requests.post(f"{args.base}/tts/", json=fields, timeout=600).json()
    json_s = time.perf_counter() - started

    audio_s = sum(len(base64.b64decode(e["audio"])) for e in events) / BYTES_PER_SAMPLE / SAMPLE_RATE
    starts = [w["start_time"] for e in events if e["type"] == "chunk" for w in e["words"]]
    print(f"{len(fields['text'])} characters: first /tts/stream event {first_s:.2f} s, stream complete "
          f"{stream_s:.1f} s; /tts/ JSON total {json_s:.1f} s")
    print(f"{len(events)} events, {len(starts)} words, monotonic: {starts == sorted(starts)}; joined audio "
          f"{audio_s:.3f} s, /tts/ total_duration {whole['total_duration']} s")
    same_length = abs(audio_s - whole["total_duration"]) < 0.01
    return 0 if starts == sorted(starts) and same_length else 1


if __name__ == "__main__":
    sys.exit(main())
