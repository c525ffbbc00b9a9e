"""The books API's shapes: what a job is asked (`BookRequest`), how far it is (`BookStatus`), and
what it made (`BookManifest`): the BentoML task's result and GET /books/{job_id}/manifest.json."""

from typing import Literal

from pydantic import BaseModel, Field

from engine.speech import MAX_SPEED, MIN_SPEED

#: a chapter's audio: the formats a player of chaptered audio reads (aac and raw pcm are /tts/'s only)
ChapterFormat = Literal["mp3", "opus", "wav", "flac"]
#: where a job is: queued (made, not started here yet), running, done, failed or cancelled; a
#: running job whose replica stopped saying so is resumed by the next one that starts
JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class BookRequest(BaseModel):
    """A book's voice, speed, audio format and language, as on POST /tts/; its text comes apart."""

    voice: str = Field("af_heart", min_length=1, max_length=200)
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    format: ChapterFormat = "mp3"
    lang: str | None = None


class ChapterEntry(BaseModel):
    """One chapter of the manifest: its files (under chapters/), and where it lies in book.mp3."""

    number: int = Field(description="1 for the first chapter, in reading order")
    title: str
    audio: str = Field(description="the chapter's audio file, e.g. chapters/001.mp3")
    srt: str
    vtt: str
    timestamps: str = Field(description="the chapter's words with their start and end in seconds, as JSON")
    duration_s: float
    offset_s: float = Field(description="where the chapter starts in book.mp3, in seconds")
    words: int
    chars: int


class BookManifest(BaseModel):
    """A finished book: its chapters and the whole file with chapter marks."""

    job_id: str
    voice: str
    speed: float
    format: ChapterFormat
    lang: str
    book: str = Field(description="the whole book as one mp3 with ID3 chapter marks")
    duration_s: float
    words: int
    chars: int
    chapters: list[ChapterEntry]


class JobFailure(BaseModel):
    """Why a job stopped: the chapter it was making (None: before or after the chapters) and the reason."""

    chapter: int | None
    reason: str


class BookStatus(BaseModel):
    """A job's progress, as status.json holds it (any replica sharing the store answers it)."""

    job_id: str
    state: JobState
    chapters_total: int
    chapters_done: int
    chars_total: int
    chars_done: int
    audio_s: float = Field(description="seconds of audio made so far")
    elapsed_s: float = Field(description="seconds spent making it, over every run of the job")
    chars_per_s: float | None = Field(None, description="the measured rate, characters of text per second")
    eta_s: float | None = Field(None, description="seconds left at the measured rate")
    failure: JobFailure | None = None
    replica: str | None = Field(None, description="the replica running the job")
    heartbeat_at: float | None = Field(None, description="when that replica last said so (Unix time)")
    updated_at: float
