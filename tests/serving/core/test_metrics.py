"""The gauges as Prometheus sees them across BentoML's processes: summed over live ones only."""

import pytest
from prometheus_client import Gauge

from serving.core import metrics

pytestmark = pytest.mark.unit


def test_every_gauge_leaves_out_processes_that_are_gone():
    gauges = [value for value in vars(metrics).values() if isinstance(value, Gauge)]
    assert len(gauges) >= 5
    assert all(gauge._multiprocess_mode.startswith("live") for gauge in gauges), [
        (gauge._name, gauge._multiprocess_mode) for gauge in gauges
    ]
