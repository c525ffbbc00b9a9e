"""Load test for the Kokoro TTS API: the traffic mix a TTS front end sends, checked reply by reply.

Headless against a local server (start one with ./serve.sh, default http://127.0.0.1:5000):

    .venv/bin/locust -f load_tests/locustfile.py --headless --host http://127.0.0.1:5000 \
        --users 4 --spawn-rate 1 --run-time 2m --stop-timeout 120 --csv /tmp/kokoro-locust/run --only-summary

Bounded by design: --users and --run-time cap the load, and --stop-timeout lets streams that
are still playing finish instead of being cut (a cut stream would be neither a success nor a
failure). Keep --users near the number of CPU cores on a CPU-only host: synthesis is CPU-bound
there, and more users only queue.

The mix (task weights out of 20):
  8  short JSON with word timestamps, several voices and all three formats
  3  long text streamed (include_timestamps false): time to first audio is the number to watch
  4  medium text streamed as mp3/aac, blended voices and other speeds
  2  form-encoded streaming request
  2  GET /tts/voices
  1  an invalid request (5 %), which must be answered 400 with a JSON error: a 400 counts as a
     success and anything else as a failure. Each user also sends one invalid request when it
     starts, so that even a short smoke run exercises the error path.

/tts/health is left out: clients do not call it, monitors do (load_tests/burst.py times it under load).

A streamed request's row times it to its last byte. Each also reports a custom row, type
STREAM, "time to first audio": from sending the request to the first audio bytes, what a
listener waits before playback starts. (Locust's Aggregated line includes that row.)
"""

import random
import time

from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

ENGLISH_VOICES = ("af_heart", "af_bella", "af_sky", "am_michael", "am_adam", "bf_emma", "bm_george")
FORMATS = ("wav", "mp3", "aac")
SHORT_TEXTS = (
    "Your order has shipped and will arrive on Tuesday.",
    "Turn left in 300 metres, then keep right at the fork.",
    "The meeting moved to 3:30 PM in room 12.",
    "Welcome back! You have 4 new messages.",
    "Please hold while we connect you to the next available agent.",
    "Dr. Smith will see you now.",
)
OTHER_LANGUAGES = (
    ("ef_dora", "Hola, ¿cómo estás? Hoy hace un día precioso."),
    ("ff_siwis", "Bonjour, le train partira du quai numéro deux dans cinq minutes."),
)
MEDIUM_TEXT = (
    "Streaming lets playback begin while the rest of the answer is still being spoken. "
    "The first clause is kept short on purpose, so the first audio leaves quickly, and every "
    "later sentence follows while the listener is already hearing the first."
)
LONG_TEXT = (
    "Chapter one. The harbour was quiet in the early morning, and the fishing boats rocked gently "
    "against the pier. Maria walked along the water with her coffee, watching the gulls argue over "
    "the remains of yesterday's catch. She had lived in the town for eleven years, long enough to "
    "know every captain by name and every boat by the sound of its engine. Today, though, a ship she "
    "had never seen before was tied up at the end of the long pier: tall, dark blue, with a name "
    "painted in letters she could not read. Two sailors were carrying crates down the gangway, and a "
    "third stood at the rail, looking at the town as if he were trying to remember it. When he saw "
    "her watching, he raised a hand, and after a moment, she waved back."
)
#: Invalid requests and the reason each must be refused with 400.
INVALID_REQUESTS = (
    ({"json": {"text": "Hello", "voice": "xx_nobody"}}, "not found"),
    ({"json": {"text": "Hello", "voice": "af_heart", "speed": 9}}, "speed out of range"),
    ({"json": {"text": "Hello", "voice": "af_heart", "format": "ogg"}}, "unsupported format"),
    ({"json": {"voice": "af_heart"}}, "missing text"),
    ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "malformed JSON"),
    ({"data": "text=Hi", "headers": {"Content-Type": "text/plain"}}, "unsupported Content-Type"),
)


class TTSUser(HttpUser):
    """One client of the API: a pause of 0.5 to 2 s between requests, as a UI would leave."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.invalid_request()

    @task(8)
    def short_json_with_timestamps(self) -> None:
        fields = {"text": random.choice(SHORT_TEXTS), "voice": random.choice(ENGLISH_VOICES)}
        if random.random() < 0.2:
            fields["voice"], fields["text"] = random.choice(OTHER_LANGUAGES)
        fields["format"] = random.choice(FORMATS)
        with self.client.post("/tts/", json=fields, name="json + timestamps", catch_response=True) as reply:
            self._check_json(reply, fields["format"])

    @task(3)
    def long_stream(self) -> None:
        self._stream({"text": LONG_TEXT, "voice": random.choice(ENGLISH_VOICES), "format": "wav"}, "long stream")

    @task(4)
    def medium_stream_formats_and_blends(self) -> None:
        voices = random.sample(ENGLISH_VOICES, 2) if random.random() < 0.5 else [random.choice(ENGLISH_VOICES)]
        fields = {
            "text": MEDIUM_TEXT,
            "voice": ",".join(voices),
            "format": random.choice(("mp3", "aac")),
            "speed": random.choice((0.9, 1.0, 1.25)),
        }
        self._stream(fields, "medium stream mp3/aac")

    @task(2)
    def form_stream(self) -> None:
        fields = {"text": random.choice(SHORT_TEXTS), "voice": random.choice(ENGLISH_VOICES)}
        self._stream({**fields, "include_timestamps": "false"}, "form stream", form=True)

    @task(2)
    def voices(self) -> None:
        with self.client.get("/tts/voices", name="GET /tts/voices", catch_response=True) as reply:
            if reply.status_code != 200 or not _json(reply).get("count"):
                reply.failure(f"voices: {reply.status_code} {reply.text[:200]}")

    @task(1)
    def invalid_request(self) -> None:
        kwargs, reason = random.choice(INVALID_REQUESTS)
        with self.client.post("/tts/", name="invalid (expects 400)", catch_response=True, **kwargs) as reply:
            if reply.status_code == 400 and _json(reply).get("error"):
                reply.success()
            else:
                reply.failure(f"{reason}: expected 400 with a JSON error, got {reply.status_code} {reply.text[:200]}")

    def _check_json(self, reply: ResponseContextManager, audio_format: str) -> None:
        if reply.status_code != 200:
            reply.failure(f"{reply.status_code} {reply.text[:200]}")
            return
        body = _json(reply)
        if not body.get("audio") or not body.get("word_timestamps") or body.get("audio_format") != audio_format:
            reply.failure(f"incomplete JSON: keys {sorted(body)}")
        elif not body.get("total_duration", 0) > 0:
            reply.failure("no audio duration")

    def _stream(self, fields: dict, name: str, form: bool = False) -> None:
        """POST a streaming request, read it chunk by chunk, and report time to first audio."""
        fields = fields if form else {**fields, "include_timestamps": False}
        body = {"data": fields} if form else {"json": fields}
        started = time.perf_counter()
        first_audio_ms: float | None = None
        size = 0
        with self.client.post("/tts/", name=name, stream=True, catch_response=True, **body) as reply:
            if reply.status_code != 200:
                reply.failure(f"{reply.status_code} {reply.text[:200]}")
                return
            if not reply.headers.get("Content-Type", "").startswith("audio/"):
                reply.failure(f"not audio: {reply.headers.get('Content-Type')}")
                return
            try:
                for piece in reply.iter_content(chunk_size=None):
                    if piece and first_audio_ms is None:
                        # Reported at once, so that a stream still playing when the run ends counts too.
                        first_audio_ms = (time.perf_counter() - started) * 1000
                        self._report("time to first audio", first_audio_ms, len(piece))
                    size += len(piece)
            except Exception as exc:  # a stream cut mid-way is a failure of this request
                reply.failure(f"stream cut after {size} bytes: {exc!r}")
                return
            if size < 1000:
                reply.failure(f"only {size} bytes of audio")
                return
            # Locust times a stream=True request to its headers only; a TTS stream's duration
            # is to its last byte, so the row reports that instead.
            reply.request_meta["response_time"] = (time.perf_counter() - started) * 1000
            reply.request_meta["response_length"] = size

    def _report(self, name: str, milliseconds: float, size: int) -> None:
        self.environment.events.request.fire(
            request_type="STREAM",
            name=name,
            response_time=milliseconds,
            response_length=size,
            exception=None,
            context={},
        )


def _json(reply: ResponseContextManager) -> dict:
    """The reply's JSON object, or {} when it is not one (then the caller's checks fail the request)."""
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
