"""What a load test reads from the server while it works: its /metrics, and how fast /tts/health answers.

A gauge the server does not publish (a server older than its admission deadline) reads as None
and prints as "n/a", so that the same script measures a server before and after a change.
"""

import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

import requests

#: TTS_ADMISSION_DEADLINE_S's default, assumed when the server does not publish its own
DEFAULT_DEADLINE_S = 300.0
HEALTH_POLL_S = 0.2
#: each poll's own limit: a poll slower than this counts as a timeout (orchestrators' probes allow 1 s)
HEALTH_TIMEOUT_S = 1.0
HEALTH_LIMIT_S = 0.25
SAMPLE = re.compile(r"^(tts_\w+)(?:\{[^}]*\})? (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Metrics:
    """One reading of /metrics: every value of each tts_ series, over all its labels (BentoML's
    processes each publish their own, labelled by pid; the renderers label theirs by lane)."""

    values: dict[str, list[float]]

    @classmethod
    def read(cls, base: str) -> "Metrics":
        reply = requests.get(f"{base}/metrics", timeout=10)
        reply.raise_for_status()
        values: dict[str, list[float]] = {}
        for name, value in SAMPLE.findall(reply.text):
            values.setdefault(name, []).append(float(value))
        return cls(values)

    def total(self, name: str) -> float | None:
        """Summed over processes and labels: for counts (requests, characters, chunks)."""
        return sum(self.values[name]) if name in self.values else None

    def highest(self, name: str) -> float | None:
        """The largest value: for settings and rates, which one process publishes and the others leave at 0."""
        return max(self.values[name]) if name in self.values else None

    @property
    def deadline_s(self) -> float:
        return self.highest("tts_admission_deadline_seconds") or DEFAULT_DEADLINE_S

    @property
    def backlog_chars(self) -> float | None:
        return self.total("tts_backlog_characters")

    @property
    def capacity_chars(self) -> float | None:
        """Characters the server takes on: what it can speak within its deadline at its measured rate."""
        deadline = self.highest("tts_admission_deadline_seconds")
        rate = self.highest("tts_service_rate_characters_per_second")
        return None if deadline is None or rate is None else deadline * rate

    def room_for(self, chars: int) -> int | None:
        """How many more requests of `chars` characters the capacity holds beside the backlog."""
        if self.capacity_chars is None:
            return None
        return max(0, math.floor((self.capacity_chars - (self.backlog_chars or 0)) / chars))

    def admission(self) -> str:
        deadline = self.highest("tts_admission_deadline_seconds")
        rate = self.highest("tts_service_rate_characters_per_second")
        in_flight, queued = self.total("tts_requests_in_flight"), self.total("tts_requests_queued")
        return (
            f"deadline {shown(deadline, ' s')}, service rate {shown(rate, ' characters/s', 1)}, "
            f"capacity {shown(self.capacity_chars, ' characters')}, "
            f"backlog {shown(self.backlog_chars, ' characters')}, in flight {shown(in_flight)}, queued {shown(queued)}"
        )


def shown(value: float | None, unit: str = "", decimals: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}{unit}"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value that at least `fraction` of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class HealthWatch:
    """GET /tts/health every `poll_s` on a thread of its own while the `with` block runs; each
    poll opens its own connection and has its own timeout, as an orchestrator's probe does."""

    def __init__(self, base: str, poll_s: float = HEALTH_POLL_S):
        self.base = base
        self.poll_s = poll_s
        self.latencies_s: list[float] = []
        self.statuses: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "HealthWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def healthy(self) -> bool:
        """Every poll answered 200 in under HEALTH_LIMIT_S."""
        return bool(self.latencies_s) and max(self.latencies_s) < HEALTH_LIMIT_S and set(self.statuses) == {200}

    def summary(self) -> str:
        if not self.latencies_s:
            return "health: no poll"
        ms = [seconds * 1000 for seconds in self.latencies_s]
        statuses = ", ".join(f"{count} x {status}" for status, count in self.statuses.most_common())
        return (
            f"health: {len(ms)} polls ({statuses}); p50 {percentile(ms, 0.5):.0f} ms, "
            f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
        )

    def _poll(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                status: int | str = requests.get(f"{self.base}/tts/health", timeout=HEALTH_TIMEOUT_S).status_code
            except requests.Timeout:
                status = "timeout"
            except requests.RequestException:
                status = "error"
            elapsed = time.perf_counter() - started
            self.latencies_s.append(elapsed)
            self.statuses[status] += 1
            self._stop.wait(max(0.0, self.poll_s - elapsed))
