"""The synthesizer's side: Kokoro-82M on one thread, chunk jobs in, PCM16 and durations out.

Every model call runs on one dedicated thread, loading included. With torch, each thread that
runs it gets its own OpenMP team, and once a process holds more OpenMP threads than CPUs, libgomp
stops spin-waiting between parallel regions: renders from BentoML's pool of sync-API threads
measured 25% slower on 2 cores than the same renders on one thread. onnxruntime's threads are
made with its session, on this thread, and so share its CPU priority.
"""

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from engine.synthesis import ChunkAudio, ChunkJob
from schemas import SynthesizerStatus

from .metrics import BATCH_SIZE, CHUNKS_RENDERED

if TYPE_CHECKING:
    from engine.synthesis import Backend

log = logging.getLogger("kokoro_tts")


class ModelWorker:
    def __init__(self, name: str, load: Callable[[], "Backend"], niceness: int = 0):
        """`niceness` is added to the nice value of the model's thread and of the threads it starts."""
        self.name = name
        self.model_thread = ThreadPoolExecutor(
            1, thread_name_prefix="model", initializer=lower_cpu_priority, initargs=(niceness,)
        )
        self.backend = self.model_thread.submit(load).result()
        self.calls_in_flight = 0
        self.last_call_at = time.monotonic()
        log.info("%s ready: %s on %s", name, self.backend.source, self.backend.device)

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        BATCH_SIZE.labels(self.name).observe(len(jobs))
        self.calls_in_flight += 1
        try:
            audio = await asyncio.get_running_loop().run_in_executor(self.model_thread, self.backend.render_many, jobs)
        finally:
            self.calls_in_flight -= 1
            self.last_call_at = time.monotonic()
        CHUNKS_RENDERED.labels(self.name).inc(len(jobs))
        return audio

    def drain_on_sigterm(self, idle_s: float) -> None:
        """On SIGTERM, go on serving until no chunk has been asked for in `idle_s`, then stop.

        BentoML's arbiter sends SIGTERM to every service at once. The HTTP face then finishes the
        requests in flight, but their later chunks still need this process: stopping at once cut
        them (a 500 mid-request). The HTTP face stops taking requests, so the calls soon end.
        Installed over uvicorn's own handler, which it calls once idle; needs the main thread.
        """
        stop = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(stop):
            log.warning("%s cannot drain on SIGTERM: no server signal handler to wrap", self.name)
            return

        def stop_when_idle(sig: int, frame: FrameType | None) -> None:
            while self.calls_in_flight or time.monotonic() - self.last_call_at < idle_s:
                time.sleep(0.1)
            log.info("%s drained: stopping", self.name)
            stop(sig, frame)

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            log.info("%s draining: serving until no chunk is asked for in %.0f s", self.name, idle_s)
            threading.Thread(target=stop_when_idle, args=(sig, frame), daemon=True).start()

        signal.signal(signal.SIGTERM, on_sigterm)

    def status(self) -> SynthesizerStatus:
        return SynthesizerStatus(
            device=self.backend.device, weights_source=self.backend.source, decodes_windows=self.backend.decodes_windows
        )


def lower_cpu_priority(niceness: int) -> None:
    """Lowers the CPU priority of the calling thread and of the threads it starts later (torch's
    OpenMP team, onnxruntime's pool). Where Linux groups processes by session (autogroup), nice values weigh only
    within a group, and BentoML starts each service in a session of its own: there the group's
    own nice value is what counts against the other services, so it is lowered too."""
    if niceness <= 0:
        return
    os.nice(niceness)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(niceness))
