"""The metric the HorizontalPodAutoscaler scales on (deploy/k8s/hpa.yaml), on a live server's
/metrics: there, a gauge, and counting the requests in flight."""

import re
import threading
import time

import pytest
import requests

from tests.deploy.test_k8s import hpa_metric_name

pytestmark = pytest.mark.server


def in_flight(base: str) -> float:
    """tts_requests_in_flight summed over its per-process series, as the adapter's query does."""
    text = requests.get(f"{base}/metrics", timeout=10).text
    values = re.findall(rf"^{hpa_metric_name()}(?:\{{[^}}]*\}})? (\S+)$", text, flags=re.MULTILINE)
    assert values, f"{hpa_metric_name()} is not on /metrics"
    return sum(float(v) for v in values)


def test_live_metrics_export_the_hpa_metric_and_it_counts_requests(server):
    """The metric exists on the live /metrics and rises while a request is being synthesised."""
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    assert f"# TYPE {hpa_metric_name()} gauge" in metrics
    for path in ("/readyz", "/livez"):  # what the probes ask
        assert requests.get(f"{server}{path}", timeout=10).status_code == 200
    assert in_flight(server) == 0
    text = "A request that takes a while to speak, so that it is in flight when the metrics are read. " * 2
    done = threading.Event()

    def speak() -> None:
        try:
            requests.post(f"{server}/tts/", json={"text": text, "voice": "af_heart"}, timeout=300)
        finally:
            done.set()

    worker = threading.Thread(target=speak)
    worker.start()
    peak = 0.0
    while not done.is_set():
        peak = max(peak, in_flight(server))
        time.sleep(0.2)
    worker.join()
    assert peak >= 1, "the gauge never counted the request in flight"
    assert in_flight(server) == 0
