"""Every speech route of a live server as its client hears it: the answer's 24 kHz PCM, and when
(wall time from the request) its first audio byte and its first speech arrived.

Streamed answers are decoded as they arrive, so first speech is the moment the first voiced frame
is in the client's hands. Voiced, while streaming, cannot mean "within 40 dB of the loudest frame"
(benchmarks.speech_quality's rule): the loudest frame has not come yet. It is a 10 ms frame whose
RMS is above ONSET_DBFS, -50 dBFS: Kokoro's voices peak near -20 dBFS and the model's silence lies
below -75 dBFS, so the onset found is where speech_quality.first_voiced_s puts it, to a frame.
"""

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import numpy as np
import requests

from benchmarks.speech_quality import FRAME_S, SAMPLE_RATE
from tests.live import llm_tokens

VOICE = "af_heart"
ONSET_DBFS = -50.0
TIMEOUT_S = 900
RAW_PCM = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": SAMPLE_RATE}


class PcmStream:
    """PCM16 bytes as they arrive, a WAV file's header skipped, as int16 samples: a piece may end
    inside the header or inside a sample."""

    def __init__(self, wav: bool):
        self._pending = b""
        self._riff_read = not wav
        self._in_data = not wav

    def feed(self, data: bytes) -> np.ndarray:
        self._pending += data
        if not self._in_data:
            self._skip_header()
        if not self._in_data:
            return np.zeros(0, dtype=np.int16)
        whole = len(self._pending) // 2 * 2
        samples = np.frombuffer(self._pending[:whole], dtype="<i2").astype(np.int16)
        self._pending = self._pending[whole:]
        return samples

    def _skip_header(self) -> None:
        if not self._riff_read:
            if len(self._pending) < 12:
                return
            if self._pending[:4] != b"RIFF" or self._pending[8:12] != b"WAVE":
                raise ValueError(f"not a WAV file: it starts {self._pending[:12]!r}")
            self._pending = self._pending[12:]
            self._riff_read = True
        while len(self._pending) >= 8:
            name, size = self._pending[:4], int.from_bytes(self._pending[4:8], "little")
            if name == b"data":  # its size may be a streamed file's placeholder: read to the end
                self._pending = self._pending[8:]
                self._in_data = True
                return
            whole = 8 + size + size % 2
            if len(self._pending) < whole:
                return
            self._pending = self._pending[whole:]


class SpeechOnset:
    """Where speech starts in audio that arrives in pieces: the first 10 ms frame (counted from
    the audio's start) whose RMS is above `threshold_dbfs`."""

    def __init__(self, threshold_dbfs: float = ONSET_DBFS, rate: int = SAMPLE_RATE):
        self.threshold = 32768.0 * 10 ** (threshold_dbfs / 20)
        self.frame = round(rate * FRAME_S)
        self._pending = np.zeros(0, dtype=np.float64)
        self._frames_seen = 0
        self.at_s: float | None = None

    def feed(self, samples: np.ndarray) -> bool:
        """Whether speech has started by the end of `samples`."""
        if self.at_s is not None:
            return True
        audio = np.concatenate([self._pending, samples.astype(np.float64)])
        count = audio.shape[0] // self.frame
        rms = np.sqrt(np.mean(audio[: count * self.frame].reshape(count, self.frame) ** 2, axis=1))
        loud = np.flatnonzero(rms > self.threshold)
        if loud.size:
            self.at_s = round((self._frames_seen + int(loud[0])) * FRAME_S, 3)
        self._frames_seen += count
        self._pending = audio[count * self.frame :]
        return self.at_s is not None


@dataclass(frozen=True)
class Heard:
    samples: np.ndarray  # int16, 24 kHz mono: the whole answer, or what came until speech
    first_byte_s: float | None  # wall seconds from the request to its first audio bytes
    first_speech_s: float | None  # ... to its first voiced frame
    lead_s: float | None  # where in the audio speech starts
    total_s: float  # wall seconds to the answer's end (or to first speech, when the client left then)


class Listener:
    """One answer heard as it arrives."""

    def __init__(self, wav: bool = False):
        self.started = time.perf_counter()
        self.stream = PcmStream(wav)
        self.onset = SpeechOnset()
        self.pieces: list[np.ndarray] = []
        self.first_byte_s: float | None = None
        self.first_speech_s: float | None = None

    def hear(self, data: bytes) -> bool:
        """Takes a piece of the answer; whether speech has been heard."""
        now = time.perf_counter() - self.started
        if data and self.first_byte_s is None:
            self.first_byte_s = now
        samples = self.stream.feed(data)
        self.pieces.append(samples)
        if self.first_speech_s is None and self.onset.feed(samples):
            self.first_speech_s = now
        return self.first_speech_s is not None

    def heard(self) -> Heard:
        samples = np.concatenate(self.pieces) if self.pieces else np.zeros(0, dtype=np.int16)
        total_s = time.perf_counter() - self.started
        return Heard(samples, self.first_byte_s, self.first_speech_s, self.onset.at_s, total_s)


#: a route: (server's base URL, text, leave once speech is heard) -> what the client heard
Route = Callable[[str, str, bool], Heard]


def _streamed(reply: requests.Response, listener: Listener, until_speech: bool) -> Heard:
    reply.raise_for_status()
    for piece in reply.iter_content(chunk_size=None):
        if listener.hear(piece) and until_speech:
            break
    return listener.heard()


def tts_json(base: str, text: str, until_speech: bool = False) -> Heard:
    """POST /tts/ with timestamps: one JSON answer, its WAV file in base64."""
    listener = Listener(wav=True)
    body = {"text": text, "voice": VOICE, "format": "wav", "include_timestamps": True}
    reply = requests.post(f"{base}/tts/", json=body, timeout=TIMEOUT_S)
    reply.raise_for_status()
    listener.hear(base64.b64decode(reply.json()["audio"]))
    return listener.heard()


def tts_streamed(base: str, text: str, until_speech: bool = False) -> Heard:
    """POST /tts/ without timestamps: the WAV file streamed."""
    listener = Listener(wav=True)
    body = {"text": text, "voice": VOICE, "format": "wav", "include_timestamps": False}
    with requests.post(f"{base}/tts/", json=body, stream=True, timeout=TIMEOUT_S) as reply:
        return _streamed(reply, listener, until_speech)


def tts_stream(base: str, text: str, until_speech: bool = False) -> Heard:
    """POST /tts/stream: NDJSON events, each chunk's raw PCM in base64."""
    listener = Listener()
    body = {"text": text, "voice": VOICE, "format": "pcm"}
    with requests.post(f"{base}/tts/stream", json=body, stream=True, timeout=TIMEOUT_S) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if not line:
                continue
            event = json.loads(line)
            if event["type"] == "error":
                raise RuntimeError(f"/tts/stream failed midway: {event}")
            spoken = listener.hear(base64.b64decode(event["audio"]))
            if event["type"] == "done" or (spoken and until_speech):
                break
    return listener.heard()


def openai_speech(stream: bool) -> Route:
    """POST /v1/audio/speech as raw PCM; `stream` is sent as Kokoro-FastAPI's clients send it, and
    the answer read whole (false) or as it arrives (true)."""

    def route(base: str, text: str, until_speech: bool = False) -> Heard:
        listener = Listener()
        body = {"model": "tts-1", "input": text, "voice": VOICE, "response_format": "pcm", "stream": stream}
        with requests.post(f"{base}/v1/audio/speech", json=body, stream=stream, timeout=TIMEOUT_S) as reply:
            if stream:
                return _streamed(reply, listener, until_speech)
            reply.raise_for_status()
            listener.hear(reply.content)
            return listener.heard()

    return route


def cartesia_bytes(base: str, text: str, until_speech: bool = False) -> Heard:
    """POST /tts/bytes, Cartesia's one-shot route: raw PCM, read whole."""
    listener = Listener()
    body = {"transcript": text, "voice": {"mode": "id", "id": VOICE}, "output_format": RAW_PCM}
    reply = requests.post(f"{base}/tts/bytes", json=body, timeout=TIMEOUT_S)
    reply.raise_for_status()
    listener.hear(reply.content)
    return listener.heard()


def cartesia_websocket(base: str, text: str, until_speech: bool = False) -> Heard:
    """/tts/websocket as a voice agent speaks to it: the text as an LLM's tokens, all sent at once,
    then the context's closing message; raw PCM chunks back until `done`."""

    async def listen() -> Heard:
        context = {"context_id": "listening", "voice": {"mode": "id", "id": VOICE}, "output_format": RAW_PCM}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(base.replace("http", "ws", 1) + "/tts/websocket", max_msg_size=0) as ws,
        ):
            listener = Listener()
            for token in [*llm_tokens(text), ""]:
                await ws.send_str(json.dumps({**context, "transcript": token, "continue": bool(token)}))
            async for message in ws:
                answer = json.loads(message.data)
                if answer["type"] == "error":
                    raise RuntimeError(f"/tts/websocket: {answer['error']}")
                if answer["type"] == "done":
                    break
                if answer["type"] == "chunk" and listener.hear(base64.b64decode(answer["data"])) and until_speech:
                    await ws.send_str(json.dumps({"context_id": "listening", "cancel": True}))
                    break
            return listener.heard()

    return asyncio.run(listen())


#: every route, whole answers: the seams and the quality score
ROUTES: dict[str, Route] = {
    "POST /tts/ JSON": tts_json,
    "POST /tts/ streamed": tts_streamed,
    "POST /tts/stream": tts_stream,
    "/v1/audio/speech": openai_speech(stream=False),
    "/v1/audio/speech stream": openai_speech(stream=True),
    "POST /tts/bytes": cartesia_bytes,
    "/tts/websocket": cartesia_websocket,
}
#: the streamed routes: first byte and first speech
STREAMED = ("POST /tts/ streamed", "POST /tts/stream", "/v1/audio/speech stream", "/tts/websocket")
