"""The jobs of this replica: made from a book (its id from its bytes and settings, so the same
book sent again joins the same job), run at most once at a time here, cancelled, resumed at
start, and deleted once KOKORO_BOOKS_KEEP_S old.

A job is one folder in the store (serving.books.store); what runs it here is a `JobRun` in an
asyncio task of its own, which every submission of the same book awaits. A job another replica
runs (its lease is fresh) is waited for through the store.
"""

import asyncio
import hashlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import anyio

from engine.books import BookError, BookFormat, read_book
from engine.errors import InvalidInput
from engine.text import speakable
from serving.core.errors import BadRequest, NotReady
from serving.core.health import HealthMonitor
from serving.core.lifecycle import LOADING_RETRY_S, TTSServer

from .parts import in_parts
from .runner import LEASE_S, JobFailed, JobRun, JobSpec, Stopped, read_status
from .schemas import BookManifest, BookRequest, BookStatus
from .store import CANCEL, JOB, MANIFEST, STATUS, BookStore, text_name

log = logging.getLogger("kokoro_tts")
#: how often a job run by another replica is looked at, while a submission here waits for it
WATCH_S = 5.0
#: how often expired jobs are looked for, besides at start
EXPIRY_EVERY_S = 3_600.0
#: how often the synthesizers are asked whether they are up, before the books left mid-way resume
READY_POLL_S = 2.0


def job_key(data: bytes, book_format: str, request: BookRequest) -> str:
    """The job's id: the book's bytes and everything that changes its audio, hashed."""
    digest = hashlib.sha256(data)
    settings = f"{book_format}|{request.voice}|{request.speed!r}|{request.format}|{request.lang or ''}"
    digest.update(b"\0" + settings.encode())
    return digest.hexdigest()[:32]


class BookJobs:
    def __init__(
        self,
        store: BookStore,
        server: Callable[[], TTSServer | None],
        keep_s: float,
        max_chars: int,
        replica: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        """`server`: the app's TTSServer once the model side is wired (None until then). `replica`:
        this server's name in the leases, by default its host's: a server restarted on the same host
        (a container restarted in its pod) takes its jobs back at once, without waiting for their
        leases to go stale."""
        self.store = store
        self._server = server
        self.keep_s = keep_s
        self.max_chars = max_chars
        self.replica = replica or socket.gethostname()
        self.clock = clock
        self._runs: dict[str, JobRun] = {}
        self._tasks: dict[str, asyncio.Task[BookManifest]] = {}
        #: the BentoML tasks waiting for each job, by task id (serving.books.task)
        self.task_jobs: dict[str, str] = {}

    def server(self) -> TTSServer:
        server = self._server()
        if server is None:
            raise NotReady("the server is starting", LOADING_RETRY_S)
        return server

    async def open_job(self, data: bytes, book_format: BookFormat, request: BookRequest) -> str:
        """The job for this book and these settings, made if it is new (else BadRequest: a bad voice,
        speed or language, a file that is no book of its format, no text, a book over the limit).
        A job that failed or was cancelled is queued again: it resumes from its first unfinished chapter."""
        try:
            language = self.server().planner.language_of(request.voice, request.speed, request.lang)
        except InvalidInput as exc:
            raise BadRequest(str(exc)) from None
        job_id = job_key(data, book_format, request)
        if await anyio.to_thread.run_sync(self.store.exists, job_id, JOB):
            await anyio.to_thread.run_sync(self._requeue, job_id)
            return job_id
        try:
            chapters = await anyio.to_thread.run_sync(read_book, data, book_format, self.max_chars)
        except BookError as exc:
            raise BadRequest(str(exc)) from None
        chapters = in_parts([chapter for chapter in chapters if speakable(chapter.text)])
        if not chapters:
            raise BadRequest("the book has nothing to speak: send a text, Markdown or EPUB with words in it")
        spec = JobSpec(job_id, request, language, [c.title for c in chapters], [len(c.text) for c in chapters])
        await anyio.to_thread.run_sync(self._write_job, spec, [chapter.text for chapter in chapters])
        return job_id

    def _write_job(self, spec: JobSpec, texts: list[str]) -> None:
        for index, text in enumerate(texts):
            self.store.write_bytes(spec.job_id, text_name(index), text.encode())
        self.store.write_json(spec.job_id, JOB, spec.to_json())
        self._write_queued(spec)

    def _write_queued(self, spec: JobSpec) -> None:
        status = BookStatus(
            job_id=spec.job_id, state="queued", chapters_total=len(spec.titles), chapters_done=0,
            chars_total=sum(spec.chars), chars_done=0, audio_s=0.0, elapsed_s=0.0, updated_at=self.clock(),
        )  # fmt: skip
        previous = read_status(self.store, spec.job_id)
        if previous is not None:  # a job run before keeps its figures
            status = previous.model_copy(update={"state": "queued", "failure": None, "eta_s": None})
        self.store.write_json(spec.job_id, STATUS, status.model_dump(mode="json"))

    def _requeue(self, job_id: str) -> None:
        status = read_status(self.store, job_id)
        if status is not None and status.state in ("failed", "cancelled"):
            self.store.remove(job_id, CANCEL)
            spec = JobSpec.read(self.store, job_id)
            if spec is not None:
                self._write_queued(spec)

    async def narrate(self, job_id: str) -> BookManifest:
        """The job's manifest once the book is made: run here, or by the replica that holds it.
        Raises JobFailed (status.json says which chapter and why) or Stopped (cancelled)."""
        while True:
            if job_id in self._tasks:
                return await asyncio.shield(self._tasks[job_id])
            saved = await anyio.to_thread.run_sync(self.store.read_json, job_id, MANIFEST)
            if saved is not None:
                return BookManifest(**saved)
            status = await anyio.to_thread.run_sync(read_status, self.store, job_id)
            if status is not None and status.state == "failed":
                failure = status.failure
                raise JobFailed(f"chapter {failure.chapter}: {failure.reason}" if failure else "an earlier run")
            if status is not None and status.state == "cancelled":
                raise Stopped("cancelled")
            if not self.held_elsewhere(status):
                self.start(job_id)
                continue
            await asyncio.sleep(WATCH_S)

    def held_elsewhere(self, status: BookStatus | None) -> bool:
        """Whether another replica runs the job: its status says so, with a fresh heartbeat."""
        if status is None or status.state != "running" or status.replica in (None, self.replica):
            return False
        return status.heartbeat_at is not None and self.clock() - status.heartbeat_at < LEASE_S

    def start(self, job_id: str) -> asyncio.Task[BookManifest]:
        """Runs the job here (once: a second call gives the same task)."""
        if job_id not in self._tasks:
            spec = JobSpec.read(self.store, job_id)
            if spec is None:
                raise BadRequest(f"no book job {job_id!r}")
            run = JobRun(self.server(), self.store, spec, self.replica, self.clock)
            self._runs[job_id] = run
            task = asyncio.ensure_future(run.run())
            self._tasks[job_id] = task
            task.add_done_callback(lambda done: self._finished(job_id, done))
        return self._tasks[job_id]

    def _finished(self, job_id: str, task: asyncio.Task[BookManifest]) -> None:
        self._runs.pop(job_id, None)
        self._tasks.pop(job_id, None)
        failure = None if task.cancelled() else task.exception()
        if failure is not None and not isinstance(failure, JobFailed | Stopped):
            log.error("book %s stopped on %r", job_id, failure)

    async def cancel(self, job_id: str) -> BookStatus | None:
        """Stops the job wherever it runs: here after the chunk in hand, on another replica at its
        next heartbeat (the cancel marker in the store). None: no such job."""
        status = await anyio.to_thread.run_sync(read_status, self.store, job_id)
        if status is None:
            return None
        if status.state in ("done", "failed", "cancelled"):
            return status
        await anyio.to_thread.run_sync(self.store.write_bytes, job_id, CANCEL, b"")
        run = self._runs.get(job_id)
        if run is not None:
            run.stop("cancelled")
        elif not self.held_elsewhere(status):
            status = status.model_copy(update={"state": "cancelled", "eta_s": None, "updated_at": self.clock()})
            await anyio.to_thread.run_sync(self.store.write_json, job_id, STATUS, status.model_dump(mode="json"))
        return status

    async def resume_all(self) -> list[str]:
        """Starts every job in the store that was not finished, failed or cancelled and that no live
        replica holds: those whose server stopped mid-book. Returns their ids."""
        resumed = []
        for job_id in await anyio.to_thread.run_sync(self.store.job_ids):
            status = await anyio.to_thread.run_sync(read_status, self.store, job_id)
            if status is None or status.state not in ("queued", "running") or self.held_elsewhere(status):
                continue
            if job_id in self._tasks:
                continue
            log.info("book %s: resumed from chapter %d of %d", job_id, status.chapters_done + 1, status.chapters_total)
            self.start(job_id)
            resumed.append(job_id)
        return resumed

    def stop_on_sigterm(self) -> None:
        """On SIGTERM, every run stops after its chunk in hand (its job queued, to resume at the next
        start or on another replica), then the server's own handler runs: uvicorn waits for the
        requests in flight, the BentoML tasks among them, and a run that went on would hold it
        (and the synthesizers, which drain until no chunk is asked for) until the book ended."""
        stop = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(stop):
            log.warning("books cannot stop on SIGTERM: no server signal handler to wrap")
            return
        loop = asyncio.get_running_loop()

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.stop_all)
            stop(sig, frame)

        signal.signal(signal.SIGTERM, on_sigterm)

    def stop_all(self) -> None:
        for run in self._runs.values():
            run.stop("shutdown")

    async def shutdown(self) -> None:
        """Stops every run here after its chunk in hand, the jobs left queued for the next start
        (or another replica) to resume."""
        self.stop_all()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def expire(self) -> list[str]:
        """Deletes the jobs not touched for keep_s (a finished one's files, a failed or abandoned
        one's too); returns their ids."""
        expired = []
        for job_id in await anyio.to_thread.run_sync(self.store.job_ids):
            if job_id in self._tasks:
                continue
            status = await anyio.to_thread.run_sync(read_status, self.store, job_id)
            if status is not None and self.clock() - status.updated_at > self.keep_s:
                await anyio.to_thread.run_sync(self.store.delete_job, job_id)
                expired.append(job_id)
        return expired

    async def keep(self, health: HealthMonitor) -> None:
        """Once the synthesizers answer: resume the books left mid-way (at start, and every
        LEASE_S after, so that a job whose replica stopped or was scaled down moves to one that
        runs on), and delete the expired jobs, at start and every EXPIRY_EVERY_S."""
        while await health.status() is None:
            await asyncio.sleep(READY_POLL_S)
        expired_at = None
        while True:
            try:
                await self.resume_all()
                if expired_at is None or self.clock() - expired_at >= EXPIRY_EVERY_S:
                    expired_at = self.clock()
                    if expired := await self.expire():
                        log.info("books expired: %s", ", ".join(expired))
            except Exception:
                log.exception("books: resuming or expiring jobs failed; tried again in %.0f s", LEASE_S)
            await asyncio.sleep(LEASE_S)
