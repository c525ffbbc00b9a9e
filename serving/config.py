"""Serving settings: how many requests the HTTP face takes on, who may call it, how big a body may be.

Read once from the environment, typed, loud when wrong (as engine.settings is for the engine).
Nothing else in serving/ reads os.environ.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.settings import env_number


@dataclass(frozen=True)
class ServingSettings:
    #: requests synthesised at once (0: 16 on CPU, 256 on CUDA)
    max_in_flight: int = 0
    #: characters of text synthesised at once, not yet spoken, summed over the requests in flight
    #: (0: 5,000 on CPU, about a minute of work on 2 cores; 200,000 on CUDA). The rest wait their
    #: turn in arrival order; a longer text starts when nothing else is in flight.
    max_in_flight_chars: int = 0
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
    #: second (0: 45 on CPU, what 2 cores sustain for a mix of long JSON and streamed requests;
    #: 2,000 on CUDA)
    initial_rate_chars_s: float = 0
    #: largest request body accepted, in bytes; more is a 413 (10,000 characters of text fit, even
    #: written as JSON \\u escapes: 6 bytes each)
    max_body_bytes: int = 256 * 1024
    #: origins a browser may call from (CORS); ("*",) lets any page call the API
    cors_origins: tuple[str, ...] = ("*",)
    #: when set, every route but health and the probes wants `Authorization: Bearer <key>`
    api_key: str | None = None
    #: health answers from its last look at the synthesizers and looks again in the background
    #: once that is `health_refresh_s` old; a synthesizer that has not answered for
    #: `health_grace_s` (busy, hung or gone) makes health 503
    health_refresh_s: float = 2.0
    health_grace_s: float = 10.0

    def in_flight_for(self, device: str) -> int:
        if self.max_in_flight:
            return self.max_in_flight
        return 16 if device == "cpu" else 256

    def in_flight_chars_for(self, device: str) -> int:
        if self.max_in_flight_chars:
            return self.max_in_flight_chars
        return 5_000 if device == "cpu" else 200_000

    def initial_rate_for(self, device: str) -> float:
        if self.initial_rate_chars_s:
            return self.initial_rate_chars_s
        return 45.0 if device == "cpu" else 2_000.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServingSettings":
        env = os.environ if env is None else env
        defaults = cls()
        origins = env.get("TTS_CORS_ORIGINS")
        return cls(
            max_in_flight=env_number(env, "TTS_MAX_IN_FLIGHT", defaults.max_in_flight, int),
            max_in_flight_chars=env_number(env, "TTS_MAX_IN_FLIGHT_CHARS", defaults.max_in_flight_chars, int),
            max_queued=env_number(env, "TTS_MAX_QUEUED", defaults.max_queued, int, minimum=0),
            admission_deadline_s=env_number(env, "TTS_ADMISSION_DEADLINE_S", defaults.admission_deadline_s, float),
            max_queue_wait_s=env_number(env, "TTS_MAX_QUEUE_WAIT_S", defaults.max_queue_wait_s, float, minimum=0),
            initial_rate_chars_s=env_number(
                env, "TTS_INITIAL_RATE_CHARS_S", defaults.initial_rate_chars_s, float, minimum=0
            ),
            max_body_bytes=env_number(env, "TTS_MAX_BODY_BYTES", defaults.max_body_bytes, int),
            cors_origins=defaults.cors_origins
            if origins is None
            else tuple(origin.strip() for origin in origins.split(",") if origin.strip()),
            api_key=env.get("TTS_API_KEY", "").strip() or None,
        )
