"""The service's Prometheus metrics, served on BentoML's /metrics beside its own.

tts_requests_in_flight is what the HPA scales on (deploy/k8s/hpa.yaml): it counts admitted
requests whose clients are still there, since a request that loses its client ends at once.
"""

from prometheus_client import Counter, Gauge, Histogram

RESPONSES = Counter("tts_requests_total", "HTTP answers of the TTS routes, by route and status", ["route", "status"])
IN_FLIGHT = Gauge("tts_requests_in_flight", "TTS requests admitted and being synthesised now")
QUEUED = Gauge("tts_requests_queued", "TTS requests waiting for admission")
AUDIO_SECONDS = Counter("tts_audio_seconds_total", "Seconds of audio sent to clients")
FIRST_AUDIO = Histogram("tts_time_to_first_audio_seconds", "From request to the first chunk's audio")
CHUNKS_CANCELLED = Counter(
    "tts_chunks_cancelled_total", "Chunks dropped before they were rendered, because their client left"
)
CHUNKS_RENDERED = Counter("tts_chunks_rendered_total", "Chunks rendered by the model", ["lane"])
BATCH_SIZE = Histogram(
    "tts_synthesizer_batch_size", "Chunks per synthesizer batch", ["lane"], buckets=(1, 2, 4, 8, 16, 32, 64)
)
