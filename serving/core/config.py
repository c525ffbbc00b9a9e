"""The serving settings, grouped by what they govern: batching (how chunks reach the model) and
serving (what the HTTP face takes on, from whom, how big), and `Settings`, every group of the
server's, engine's included, read once from the environment.

Read once, typed, loud when wrong (as engine.settings is); an 'auto' or 0 that means "as the
device suits" is resolved as it is read, against the device the model settings chose. Nothing
else in serving/ reads os.environ.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.settings import ModelSettings, TextSettings, env_choice, env_number

TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class BatchingSettings:
    """How chunks reach the model: BentoML's adaptive batching in front of each synthesizer, the
    chunks the HTTP face lets into one at once, and the bulk lane. The defaults are the CPU server's."""

    #: most chunks in one batch. KOKORO_MAX_BATCH_SIZE unset: 16 on CUDA; 1, which turns batching
    #: off, on CPU, where the decoder, nearly all of a chunk's time, runs item by item anyway and
    #: BentoML's dispatcher was measured adding its learned wait to each chunk
    max_batch_size: int = 1
    #: how long a chunk may wait in BentoML's queue before it answers 503 (generous: long texts
    #: queue many chunks)
    max_latency_ms: int = 300_000
    #: chunks the HTTP face lets into each synthesizer at once (KOKORO_SYNTH_SLOTS unset: 1
    #: without batching, else twice the batch size); the rest wait in its fair queue, the chunk due
    #: first first
    slots: int = 1
    #: a second synthesizer process, at the lowest CPU priority, renders every chunk after a
    #: request's first, so a short request never waits for a long stream's chunk to finish
    #: (KOKORO_BULK_LANE=auto: on for CPU; on CUDA, batching already lets it join the next pass)
    bulk_lane: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str], device: str) -> "BatchingSettings":
        batch_size = env_number(env, "KOKORO_MAX_BATCH_SIZE", 0) or (1 if device == "cpu" else 16)
        bulk_lane = env_choice(env, "KOKORO_BULK_LANE", ("auto", "on", "off"), "auto")
        return cls(
            max_batch_size=batch_size,
            max_latency_ms=env_number(env, "KOKORO_MAX_LATENCY_MS", cls.max_latency_ms),
            slots=env_number(env, "KOKORO_SYNTH_SLOTS", 0) or (1 if batch_size == 1 else 2 * batch_size),
            bulk_lane=bulk_lane == "on" or (bulk_lane == "auto" and device == "cpu"),
        )


@dataclass(frozen=True)
class SocketLimits:
    """What one WebSocket client (/tts/websocket) may hold and send: each bound is answered with
    an error message on the socket; only a flood or a socket left idle is closed."""

    #: contexts open at once on one socket; a new one past it is refused (an agent needs one a turn)
    max_contexts: int = 16
    #: characters a context gathers without a sentence end before they are spoken anyway, in
    #: parts cut at the last clause or word boundary (an LLM's run-on text, or text with no marks)
    max_gather_chars: int = 1_000
    #: bytes in one client message; a longer one is refused with an error and the socket serves
    #: on. 10,000 characters fit even as JSON \\u escapes (6 bytes each); the server's WebSocket
    #: layer closes the socket (1009) on a message over four times this, before reading it all
    max_message_bytes: int = 64 * 1024
    #: messages a second a socket may send, on average over a second (a token bucket holding one
    #: second's worth): the fastest hosted LLMs stream 1,000 tokens a second and more, one a
    #: message, and a client replaying a text sends its tokens at once; past it the socket is closed
    max_messages_s: float = 2_000.0
    #: a socket with no context open and no message for this many seconds is closed (Cartesia's
    #: own closes after 5 minutes; pipecat's client reconnects)
    idle_s: float = 300.0
    #: sockets one client address may hold at once (nginx's `limit_conn` in deploy/nginx.conf
    #: says the same in front): an agent needs one, with a context a turn
    max_sockets_per_client: int = 8
    #: seconds a client address is turned away after one of its sockets was closed for abuse (a
    #: flood, or a message far over the limit); 0: never (serving.cartesia.clients says why)
    abuse_cooldown_s: float = 30.0
    #: seconds of a context's audio rendered ahead of its playing at most: a voice agent plays
    #: it as it comes, so more is work a client that sends text faster than it is heard, or
    #: leaves, takes from everyone else's first audio; 0: as fast as the server can
    max_ahead_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SocketLimits":
        return cls(
            max_contexts=env_number(env, "TTS_WS_MAX_CONTEXTS", cls.max_contexts),
            max_gather_chars=env_number(env, "TTS_WS_MAX_GATHER_CHARS", cls.max_gather_chars, minimum=100),
            max_message_bytes=env_number(env, "TTS_WS_MAX_MESSAGE_BYTES", cls.max_message_bytes, minimum=1024),
            max_messages_s=env_number(env, "TTS_WS_MAX_MESSAGES_S", cls.max_messages_s, float),
            idle_s=env_number(env, "TTS_WS_IDLE_S", cls.idle_s, float),
            max_sockets_per_client=env_number(
                env, "TTS_WS_MAX_SOCKETS_PER_CLIENT", cls.max_sockets_per_client, minimum=1
            ),
            abuse_cooldown_s=env_number(env, "TTS_WS_ABUSE_COOLDOWN_S", cls.abuse_cooldown_s, float, minimum=0),
            max_ahead_s=env_number(env, "TTS_WS_MAX_AHEAD_S", cls.max_ahead_s, float, minimum=0),
        )


@dataclass(frozen=True)
class ServingSettings:
    """What the HTTP face takes on (admission), from whom (key, origins), how big a body may be,
    how it watches the synthesizers, and its logging. The defaults are the CPU server's."""

    #: requests synthesised at once (TTS_MAX_IN_FLIGHT unset: 16 on CPU, 256 on CUDA)
    max_in_flight: int = 16
    #: characters of text synthesised at once, not yet spoken, summed over the requests in flight
    #: (TTS_MAX_IN_FLIGHT_CHARS unset: 5,000 on CPU, about a minute of work on 2 cores; 200,000 on
    #: CUDA). The rest wait their turn in arrival order. A request counts at most half of it, so a
    #: longer text starts once the others in flight hold at most the other half, and a short one
    #: starts beside it (serving.core.admission).
    max_in_flight_chars: int = 5_000
    #: a request is taken only when the server projects, from the text before it and the rate it
    #: has measured, that it finishes within this many seconds; else 429 at once with Retry-After.
    #: Half a common 10-minute client timeout and the service's 600 s request timeout, so a
    #: projection off by far less than 2x leaves no client hanging.
    admission_deadline_s: float = 300.0
    #: requests waiting for their turn, beyond those in flight; more are refused at once with 429
    max_queued: int = 64
    #: longest wait for a turn, in seconds, or None to wait as long as the deadline allows. A fleet
    #: behind a load balancer sets it short (deploy/k8s: 0.5), so a request that cannot start at
    #: once is refused and retried on another replica rather than queued here.
    max_queue_wait_s: float | None = None
    #: the speaking rate assumed until the server has measured its own, in characters of text per
    #: second (TTS_INITIAL_RATE_CHARS_S unset: 45 on CPU, what 2 cores sustain for a mix of long
    #: JSON and streamed requests; 2,000 on CUDA)
    initial_rate_chars_s: float = 45.0
    #: largest request body accepted, in bytes; more is a 413 (10,000 characters of text fit, even
    #: written as JSON \\u escapes: 6 bytes each)
    max_body_bytes: int = 256 * 1024
    #: origins of the web pages that may call the API, besides the server's own (the demo page):
    #: CORS headers for them, and a 403 for a page of any other origin (serving.core.origins). None by
    #: default, so that no page elsewhere on the network can drive the server; ("*",) lets any in
    cors_origins: tuple[str, ...] = ()
    #: when set, every route but health and the probes wants `Authorization: Bearer <key>`
    api_key: str | None = None
    #: health answers from its last look at the synthesizers and looks again in the background
    #: once that is `health_refresh_s` old; a synthesizer that has not answered for
    #: `health_grace_s` (busy, hung or gone) makes health 503
    health_refresh_s: float = 2.0
    health_grace_s: float = 10.0
    #: TTS_DEBUG: debug logging from the engine and the service
    debug: bool = False
    #: what one client of /tts/websocket may hold and send
    socket: SocketLimits = SocketLimits()

    @classmethod
    def from_env(cls, env: Mapping[str, str], device: str) -> "ServingSettings":
        defaults = cls()
        on_cpu = device == "cpu"
        origins = env.get("TTS_CORS_ORIGINS")
        return cls(
            max_in_flight=env_number(env, "TTS_MAX_IN_FLIGHT", 0) or (16 if on_cpu else 256),
            max_in_flight_chars=env_number(env, "TTS_MAX_IN_FLIGHT_CHARS", 0) or (5_000 if on_cpu else 200_000),
            max_queued=env_number(env, "TTS_MAX_QUEUED", defaults.max_queued, int, minimum=0),
            admission_deadline_s=env_number(env, "TTS_ADMISSION_DEADLINE_S", defaults.admission_deadline_s, float),
            max_queue_wait_s=env_number(env, "TTS_MAX_QUEUE_WAIT_S", defaults.max_queue_wait_s, float, minimum=0),
            initial_rate_chars_s=env_number(env, "TTS_INITIAL_RATE_CHARS_S", 0.0, float, minimum=0)
            or (45.0 if on_cpu else 2_000.0),
            max_body_bytes=env_number(env, "TTS_MAX_BODY_BYTES", defaults.max_body_bytes, int),
            cors_origins=defaults.cors_origins
            if origins is None
            else tuple(origin.strip() for origin in origins.split(",") if origin.strip()),
            api_key=env.get("TTS_API_KEY", "").strip() or None,
            debug=env_choice(env, "TTS_DEBUG", ("false", "true", "0", "1", "no", "yes"), "false") in TRUE,
            socket=SocketLimits.from_env(env),
        )


@dataclass(frozen=True)
class BooksSettings:
    """Book jobs (serving/books): where their files are kept, and for how long."""

    #: an fsspec URL: a local directory (the default: under BentoML's home), or s3://bucket/prefix
    #: (with s3fs installed) for replicas that share their jobs
    store_url: str = "~/bentoml/books"
    #: a job's files are deleted this long after its last change (BentoML keeps a task's result
    #: as long: a day)
    keep_s: float = 86_400.0
    #: the longest book, in characters of text
    max_chars: int = 2_000_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "BooksSettings":
        home = env.get("BENTOML_HOME", "~/bentoml")
        store_url = env.get("KOKORO_BOOKS_STORE", "").strip() or os.path.join(home, "books")
        if "://" not in store_url:
            store_url = os.path.abspath(os.path.expanduser(store_url))
        return cls(
            store_url=store_url,
            keep_s=env_number(env, "KOKORO_BOOKS_KEEP_S", cls.keep_s, float, minimum=1),
            max_chars=env_number(env, "KOKORO_BOOKS_MAX_CHARS", cls.max_chars, int, minimum=1),
        )


@dataclass(frozen=True)
class Settings:
    """Every setting of the server, by what it governs; service.py reads it once and hands each
    part to what it governs."""

    text: TextSettings
    model: ModelSettings
    batching: BatchingSettings
    serving: ServingSettings
    books: BooksSettings = BooksSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        model = ModelSettings.from_env(env)
        return cls(
            TextSettings.from_env(env),
            model,
            BatchingSettings.from_env(env, model.device),
            ServingSettings.from_env(env, model.device),
            BooksSettings.from_env(env),
        )
