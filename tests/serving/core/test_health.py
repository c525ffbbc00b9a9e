"""Health answers from a recent look at the synthesizers, and looks again in the background. A
fake clock stands in for the time that passes between looks."""

import asyncio

import pytest

from serving.core.health import HealthMonitor
from tests.serving.conftest import WAIT_S, Clock, FakeSynthesizer

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


async def until_status(monitor: HealthMonitor, healthy: bool) -> None:
    """Asks until the answer is the one expected (each look finishes in its own time)."""
    async with asyncio.timeout(WAIT_S):
        while (await monitor.status() is not None) != healthy:
            await asyncio.sleep(0.005)


async def test_a_quiet_spell_longer_than_the_grace_still_reads_healthy():
    clock = Clock()
    monitor = HealthMonitor([FakeSynthesizer()], refresh_s=1.0, grace_s=5.0, clock=clock)
    assert await monitor.status() is not None
    clock.now += 60.0  # no call for a minute: the next one looks again and waits for the answer
    assert await monitor.status() is not None


async def test_after_a_quiet_spell_a_busy_synthesizer_is_taken_at_its_last_word_until_its_grace():
    """No call for a minute, then a request while the synthesizer is too busy to answer at once:
    the request is not refused as if the model were not loaded."""
    clock = Clock()
    busy = FakeSynthesizer()
    monitor = HealthMonitor([busy], refresh_s=1.0, grace_s=5.0, clock=clock)
    assert await monitor.status() is not None
    answering = asyncio.Event()
    answered = busy.status

    async def answers_when_let():
        await answering.wait()
        return await answered()

    busy.status = answers_when_let
    clock.now += 60.0
    assert await monitor.status() is not None  # asked just now, answered a minute ago
    clock.now += 4.0
    assert await monitor.status() is not None
    clock.now += 2.0
    assert await monitor.status() is None  # asked 6 s ago, no answer: past its grace
    answering.set()
    clock.now += 1.0
    await until_status(monitor, healthy=True)


async def test_before_any_answer_health_waits_briefly_and_then_says_not_ready():
    clock = Clock()
    starting = FakeSynthesizer()
    never = asyncio.Event()

    async def still_loading():
        await never.wait()

    starting.status = still_loading
    monitor = HealthMonitor([starting], refresh_s=1.0, grace_s=5.0, clock=clock)
    assert await monitor.status() is None
    never.set()


async def test_a_refused_connection_is_unhealthy_and_a_slow_answer_only_after_its_grace():
    clock = Clock()
    fast, slow = FakeSynthesizer(), FakeSynthesizer()
    monitor = HealthMonitor([fast, slow], refresh_s=1.0, grace_s=5.0, clock=clock)
    assert (await monitor.status()).device == "fake"
    fast.status_failure = ConnectionRefusedError()
    clock.now += 1.0
    await until_status(monitor, healthy=False)
    fast.status_failure = None
    clock.now += 1.0
    await until_status(monitor, healthy=True)

    hanging = asyncio.Event()

    async def hangs():
        await hanging.wait()

    slow.status = hangs
    clock.now += 1.0
    assert await monitor.status() is not None  # a look at a busy synthesizer is under way
    clock.now += 4.0
    assert await monitor.status() is not None  # asked 4 s ago: within its 5 s grace
    clock.now += 2.0
    assert await monitor.status() is None  # 6 s without an answer
    hanging.set()
    clock.now += 1.0
    await until_status(monitor, healthy=True)  # it answers again
