"""Health answers from a recent look at the synthesizers, and looks again in the background."""

import asyncio

import pytest

from serving.health import HealthMonitor
from tests.serving.conftest import FakeSynthesizer

pytestmark = pytest.mark.anyio


async def test_a_quiet_spell_longer_than_the_grace_still_reads_healthy():
    fake = FakeSynthesizer()
    monitor = HealthMonitor([fake], refresh_s=0.01, grace_s=0.05)
    assert await monitor.status() is not None
    await asyncio.sleep(0.2)
    assert await monitor.status() is not None


async def test_a_refused_connection_is_unhealthy_at_once_and_a_slow_answer_after_its_grace():
    fast, slow = FakeSynthesizer(), FakeSynthesizer()
    monitor = HealthMonitor([fast, slow], refresh_s=0.01, grace_s=0.2)
    assert (await monitor.status()).device == "fake"
    fast.status_failure = ConnectionRefusedError()
    await asyncio.sleep(0.02)
    await monitor.status()
    await asyncio.sleep(0.01)
    assert await monitor.status() is None
    fast.status_failure = None

    async def hangs():
        await asyncio.sleep(60)

    slow.status = hangs
    await asyncio.sleep(0.02)
    assert await monitor.status() is not None  # busy, within its grace
    await asyncio.sleep(0.3)
    assert await monitor.status() is None
