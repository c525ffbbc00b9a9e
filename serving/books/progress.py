"""A job's progress: chapters and characters done, audio made, and the time left at the rate
measured in this run (a restarted job's rate is its own, not the one before the restart)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .schemas import BookStatus, JobFailure, JobState


@dataclass
class Progress:
    job_id: str
    chapters_total: int
    chars_total: int
    #: what earlier runs of the job made and spent (status.json says, on a resumed job)
    chapters_done: int = 0
    chars_done: int = 0
    audio_s: float = 0.0
    elapsed_before_s: float = 0.0
    clock: Callable[[], float] = time.time
    started_at: float = field(init=False)
    chars_this_run: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def spoke(self, chars: int, audio_s: float) -> None:
        self.chars_done += chars
        self.chars_this_run += chars
        self.audio_s += audio_s

    def chapter_done(self, chars_counted: int, chapter_chars: int) -> None:
        """A chapter finished: its characters are all done, whatever its chunks counted of them
        (`chars_counted`: the spaces between sentences are in no chunk)."""
        self.chapters_done += 1
        self.chars_done += chapter_chars - chars_counted
        self.chars_this_run += chapter_chars - chars_counted

    def status(self, state: JobState, replica: str | None, failure: JobFailure | None = None) -> BookStatus:
        now = self.clock()
        run_s = now - self.started_at
        rate = self.chars_this_run / run_s if self.chars_this_run and run_s > 0 else None
        left = self.chars_total - self.chars_done
        return BookStatus(
            job_id=self.job_id,
            state=state,
            chapters_total=self.chapters_total,
            chapters_done=self.chapters_done,
            chars_total=self.chars_total,
            chars_done=min(self.chars_done, self.chars_total),
            audio_s=round(self.audio_s, 3),
            elapsed_s=round(self.elapsed_before_s + run_s, 3),
            chars_per_s=None if rate is None else round(rate, 2),
            eta_s=None if rate is None or state != "running" else round(max(0, left) / rate, 1),
            failure=failure,
            replica=replica if state == "running" else None,
            heartbeat_at=now if state == "running" else None,
            updated_at=now,
        )
