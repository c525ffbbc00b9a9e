"""One run of a job: its chapters in order, each done one skipped, then the whole book.

A run starts from the job's first unfinished chapter (a chapter is done iff its record is in the
store), so a job resumed after a crash or a restart makes no chapter twice. While it runs it says
so in status.json every HEARTBEAT_S, whatever the chunk in the model (its lease: a replica whose
heartbeat is older than LEASE_S is taken for gone, and its job resumed by another), and looks for
a cancel marker that another replica may have written. A stop is seen after the chunk in hand. A chapter
that fails ends the run: status.json says which and why, and the chapters done stay.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from serving.core.lifecycle import TTSServer

from .chapter import ChapterRecord, Stopped, chapter_record, make_chapter
from .progress import Progress
from .schemas import BookManifest, BookRequest, BookStatus, JobFailure, JobState
from .store import CANCEL, JOB, STATUS, BookStore, text_name
from .whole import make_whole_book

log = logging.getLogger("kokoro_tts")
#: how often a running job writes its progress and lease, and looks for a cancel from elsewhere
HEARTBEAT_S = 5.0
#: a lease this much older than its heartbeat is stale: its replica is gone
LEASE_S = 60.0


class JobFailed(Exception):
    """A chapter (or the whole file) failed; status.json says which and why."""


@dataclass(frozen=True)
class JobSpec:
    """A job as job.json holds it: the request, the language it resolved to, its chapters' titles
    and sizes (their texts are in text/NNN.txt)."""

    job_id: str
    request: BookRequest
    language: str
    titles: list[str]
    chars: list[int]

    def to_json(self) -> dict:
        return {
            "job_id": self.job_id,
            "request": self.request.model_dump(mode="json"),
            "language": self.language,
            "chapters": [{"title": title, "chars": n} for title, n in zip(self.titles, self.chars, strict=True)],
        }

    @classmethod
    def read(cls, store: BookStore, job_id: str) -> "JobSpec | None":
        saved = store.read_json(job_id, JOB)
        if saved is None:
            return None
        return cls(
            job_id=job_id,
            request=BookRequest(**saved["request"]),
            language=saved["language"],
            titles=[chapter["title"] for chapter in saved["chapters"]],
            chars=[chapter["chars"] for chapter in saved["chapters"]],
        )


class JobRun:
    def __init__(
        self, server: TTSServer, store: BookStore, spec: JobSpec, replica: str, clock: Callable[[], float] = time.time
    ):
        self.server = server
        self.store = store
        self.spec = spec
        self.replica = replica
        self.clock = clock
        #: set to stop the run after the chunk in hand: "cancelled", or "shutdown" (resumed at the next start)
        self.stop_reason: str | None = None
        self.progress = Progress(spec.job_id, len(spec.titles), sum(spec.chars), clock=clock)
        self._writing = asyncio.Lock()
        self._state: JobState = "queued"

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    async def run(self) -> BookManifest:
        records = await anyio.to_thread.run_sync(self._done_records)
        await self._write_status("running")
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            return await self._chapters(records)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self) -> None:
        """Every HEARTBEAT_S, whatever the chunk in the model: progress and the lease written, a
        cancel written by another replica looked for."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                if await anyio.to_thread.run_sync(self.store.exists, self.spec.job_id, CANCEL):
                    self.stop("cancelled")
                elif self.stop_reason is None:
                    await self._write_status("running", beat=True)
            except Exception:
                log.exception("book %s: its heartbeat failed; tried again in %.0f s", self.spec.job_id, HEARTBEAT_S)

    async def _chapters(self, records: list[ChapterRecord | None]) -> BookManifest:
        spec = self.spec
        for index, title in enumerate(spec.titles):
            if records[index] is not None:
                continue
            text = (await anyio.to_thread.run_sync(self.store.read_bytes, spec.job_id, text_name(index))).decode()
            counted = self.progress.chars_done
            try:
                record = await make_chapter(
                    self.server, self.store, spec.job_id, index, title, text, spec.request, spec.language,
                    self.progress.audio_s, self._chunk_done, lambda: self.stop_reason,
                )  # fmt: skip
            except Stopped:
                await self._stopped()
                raise
            except Exception as exc:
                await self._failed(index + 1, exc)
            self.progress.chapter_done(self.progress.chars_done - counted, spec.chars[index])
            records[index] = record
            await self._write_status("running")
        try:
            manifest = await anyio.to_thread.run_sync(
                make_whole_book, self.store, spec.job_id, spec.request, spec.language, records
            )
        except Exception as exc:
            await self._failed(None, exc)
        await self._write_status("done")
        return manifest

    def _done_records(self) -> list[ChapterRecord | None]:
        """The chapters done in earlier runs, counted as progress."""
        previous = self.store.read_json(self.spec.job_id, STATUS)
        if previous is not None:
            self.progress.elapsed_before_s = previous.get("elapsed_s", 0.0)
        records = [chapter_record(self.store, self.spec.job_id, index) for index in range(len(self.spec.titles))]
        for record in records:
            if record is not None:
                self.progress.spoke(0, record.duration_s)
                self.progress.chapters_done += 1
                self.progress.chars_done += record.chars
        self.progress.chars_this_run = 0
        return records

    async def _chunk_done(self, chars: int, audio_s: float) -> None:
        self.progress.spoke(chars, audio_s)
        if self.stop_reason is not None:
            raise Stopped(self.stop_reason)

    async def _stopped(self) -> None:
        # a replica shutting down hands the job on: queued, with no lease, it is resumed at once
        await self._write_status("cancelled" if self.stop_reason == "cancelled" else "queued")

    async def _failed(self, chapter: int | None, exc: Exception) -> None:
        where = f"chapter {chapter}" if chapter else "the whole book"
        log.error("book %s failed at %s: %r", self.spec.job_id, where, exc, exc_info=exc)
        reason = str(exc) or type(exc).__name__
        await self._write_status("failed", JobFailure(chapter=chapter, reason=reason))
        raise JobFailed(f"{where}: {reason}") from exc

    async def _write_status(self, state: JobState, failure: JobFailure | None = None, beat: bool = False) -> None:
        """One write at a time, and a heartbeat never after the run's last word (done, failed...)."""
        async with self._writing:
            if beat and self._state != "running":
                return
            self._state = state
            saved = self.progress.status(state, self.replica, failure).model_dump(mode="json")
            await anyio.to_thread.run_sync(self.store.write_json, self.spec.job_id, STATUS, saved)


def read_status(store: BookStore, job_id: str) -> BookStatus | None:
    saved = store.read_json(job_id, STATUS)
    return None if saved is None else BookStatus(**saved)
