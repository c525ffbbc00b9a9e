"""The service's Prometheus metrics, served on BentoML's /metrics beside its own.

tts_requests_in_flight is what the HPA scales on (deploy/k8s/hpa.yaml): it counts admitted
requests whose clients are still there, since a request that loses its client ends at once.
BentoML serves metrics in prometheus_client's multiprocess mode, where a gauge keeps a dead
process's last value unless its mode says otherwise: the gauges sum over live processes only.
"""

from prometheus_client import Counter, Gauge, Histogram

RESPONSES = Counter("tts_requests_total", "HTTP answers of the TTS routes, by route and status", ["route", "status"])
IN_FLIGHT = Gauge(
    "tts_requests_in_flight", "TTS requests admitted and being synthesised now", multiprocess_mode="livesum"
)
QUEUED = Gauge("tts_requests_queued", "TTS requests admitted and waiting for their turn", multiprocess_mode="livesum")
BACKLOG_CHARS = Gauge(
    "tts_backlog_characters", "Characters of text admitted or waiting, not yet spoken", multiprocess_mode="livesum"
)
SERVICE_RATE = Gauge(
    "tts_service_rate_characters_per_second",
    "Characters of text spoken per second while busy, as measured (admission projects with it)",
    multiprocess_mode="livesum",
)
ADMISSION_DEADLINE = Gauge(
    "tts_admission_deadline_seconds",
    "A request is taken only if projected to finish within this many seconds",
    multiprocess_mode="livemax",
)
STREAMS_FAILED = Counter(
    "tts_streams_failed_total", "Responses that failed after their first byte was sent, by framing", ["framing"]
)
SYNTHESIZER_RETRIES = Counter(
    "tts_synthesizer_retries_total", "Chunk calls sent again after a connection to a synthesizer failed"
)
REFUSED_CHUNKS_RETRIED = Counter(
    "tts_refused_chunks_retried_total", "Chunks asked for again after an overloaded synthesizer refused them mid-answer"
)
AUDIO_SECONDS = Counter("tts_audio_seconds_total", "Seconds of audio sent to clients")
FIRST_AUDIO = Histogram("tts_time_to_first_audio_seconds", "From request to the first chunk's audio")
CHUNKS_CANCELLED = Counter(
    "tts_chunks_cancelled_total", "Chunks dropped before they were rendered, because their client left"
)
LATER_LANE_HEDGES = Counter(
    "tts_later_lane_hedges_total",
    "Stream chunks asked of the first lane too, because the later lane had not rendered them in time",
)
CHUNKS_RENDERED = Counter("tts_chunks_rendered_total", "Chunks rendered by the model", ["lane"])
BATCH_SIZE = Histogram(
    "tts_synthesizer_batch_size", "Chunks per synthesizer batch", ["lane"], buckets=(1, 2, 4, 8, 16, 32, 64)
)
