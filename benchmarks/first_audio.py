"""First audio on every route, a whole first sentence decoded at once against in two windows, side by side.

Two servers in one run, one after the other: KOKORO_FIRST_WINDOW_FRAMES=0 (a stream's first
sentence decoded at once) and the default (its first 40 frames, then the rest). For each: the time to the first
audio of the 1,968-character text on POST /tts/ (streamed), /tts/stream, /v1/audio/speech and
/tts/websocket (the whole text as one message; its first sentence is complete on arrival), the
median of a few tries, each after the server has gone quiet; then throughput: audio seconds per
wall second for concurrent whole answers of the same text.

Run: python -m benchmarks.first_audio [--tries 3] [--clients 2]
"""

import argparse
import asyncio
import base64
import concurrent.futures
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import requests

from load_tests.burst import TEXT
from tests.live import free_port, live_server

LONG_TEXT = TEXT[:1968]
VOICE = "af_heart"
#: how long the server gets to finish the chunks inside the model after a measurement is cut off:
#: a first sentence's rest and a whole next chunk of 300 phonemes (13 s of audio, 3 s on 2 idle
#: cores, twice that on busy ones); with 3 s, the try after a long text's waited behind them
QUIET_S = 8.0
CONFIGS = {"first sentence at once": {"KOKORO_FIRST_WINDOW_FRAMES": "0"}, "first window (default)": {}}


def first_bytes(method: Callable[[], requests.Response]) -> float:
    started = time.perf_counter()
    with method() as reply:
        reply.raise_for_status()
        next(reply.iter_content(chunk_size=None))
        return time.perf_counter() - started


def tts(base: str) -> float:
    body = {"text": LONG_TEXT, "voice": VOICE, "format": "pcm", "include_timestamps": False}
    return first_bytes(lambda: requests.post(f"{base}/tts/", json=body, stream=True, timeout=600))


def tts_stream(base: str) -> float:
    body = {"text": LONG_TEXT, "voice": VOICE, "format": "pcm"}
    return first_bytes(lambda: requests.post(f"{base}/tts/stream", json=body, stream=True, timeout=600))


def openai_speech(base: str) -> float:
    body = {"model": "tts-1", "input": LONG_TEXT, "voice": VOICE, "response_format": "pcm"}
    return first_bytes(lambda: requests.post(f"{base}/v1/audio/speech", json=body, stream=True, timeout=600))


def websocket(base: str) -> float:
    async def first_chunk() -> float:
        message = {"context_id": "bench", "transcript": LONG_TEXT, "continue": False, "max_buffer_delay_ms": 0,
                   "voice": {"mode": "id", "id": VOICE}}  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(base.replace("http", "ws", 1) + "/tts/websocket") as ws,
        ):
            started = time.perf_counter()
            await ws.send_str(json.dumps(message))
            async for reply in ws:
                answer = json.loads(reply.data)
                if answer["type"] == "chunk" and base64.b64decode(answer["data"]):
                    return time.perf_counter() - started
                if answer["type"] == "error":
                    raise RuntimeError(answer["error"])
        raise RuntimeError("the socket closed before any audio")

    return asyncio.run(first_chunk())


ROUTES = {"POST /tts/ (streamed)": tts, "POST /tts/stream": tts_stream, "POST /v1/audio/speech": openai_speech,
          "/tts/websocket": websocket}  # fmt: skip


def throughput(base: str, clients: int) -> float:
    """Audio seconds per wall second, `clients` whole answers of the text at once."""
    body = {"text": LONG_TEXT, "voice": VOICE, "format": "pcm"}

    def one(_: int) -> float:
        return requests.post(f"{base}/tts/", json=body, timeout=900).json()["total_duration"]

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        audio_s = sum(pool.map(one, range(clients)))
    return audio_s / (time.perf_counter() - started)


def measure(env: dict[str, str], tries: int, clients: int) -> dict[str, float]:
    figures = {}
    with tempfile.TemporaryDirectory() as folder, live_server(free_port(), Path(folder) / "serve.log", env) as base:
        tts(base)  # the first request of a fresh server warms its caches
        time.sleep(QUIET_S)
        for name, route in ROUTES.items():
            times = []
            for _ in range(tries):
                times.append(route(base))
                time.sleep(QUIET_S)
            figures[name] = statistics.median(times)
        figures["throughput"] = throughput(base, clients)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    results = {name: measure(env, args.tries, args.clients) for name, env in CONFIGS.items()}
    before, after = results.values()
    print(f"{len(LONG_TEXT)} characters, {VOICE}; first audio, median of {args.tries} (s):")
    print(f"{'':26}" + "".join(f"{name:>28}" for name in results) + f"{'ratio':>8}")
    for route in ROUTES:
        print(
            f"{route:26}"
            + "".join(f"{r[route]:>28.3f}" for r in results.values())
            + f"{after[route] / before[route]:>8.2f}"
        )
    print(f"{'audio-s/s, ' + str(args.clients) + ' whole answers':26}"
          + "".join(f"{r['throughput']:>28.2f}" for r in results.values())
          + f"{after['throughput'] / before['throughput']:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
