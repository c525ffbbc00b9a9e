"""The books store: every job's request, chapters, captions, progress and whole file, under one URL.

An fsspec filesystem rooted at KOKORO_BOOKS_STORE: a local directory by default, an S3-compatible
bucket (`s3://bucket/prefix`, with s3fs installed) for a fleet, so that any replica answers any
job's status and a job outlives the replica that started it. A job's folder:

    job.json          the request (voice, speed, format, language) and its chapters' titles and sizes
    text/NNN.txt      each chapter's text, as the book was read
    chapters/NNN.*    each finished chapter's audio, NNN.srt, NNN.vtt, NNN.words.json (its words'
                      times), and NNN.json last: a chapter is done iff its NNN.json exists
    status.json       progress, and the lease: which replica runs the job and when it last said so
    cancel            present once a client asked the job to stop
    book.mp3          the whole book with chapter marks, made last from the chapter files
    manifest.json     chapters, titles, durations, offsets in book.mp3, word counts, file names

Every file is written under a temporary name and moved into place, so a reader (another replica,
a restart after a crash) sees a file whole or not at all.
"""

import json
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fsspec.core import url_to_fs

JOB = "job.json"
STATUS = "status.json"
CANCEL = "cancel"
MANIFEST = "manifest.json"
BOOK_FILE = "book.mp3"


def chapter_name(index: int, suffix: str) -> str:
    """A chapter's file under `chapters/`: numbered from 1, in reading order (001.mp3, 001.srt...)."""
    return f"chapters/{index + 1:03d}.{suffix}"


def text_name(index: int) -> str:
    return f"text/{index + 1:03d}.txt"


class BookStore:
    """The jobs' folders under one fsspec URL."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = url_to_fs(url)
        self.fs.makedirs(self.root, exist_ok=True)

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    def path(self, job_id: str, name: str = "") -> str:
        return posixpath.join(self.root, job_id, name) if name else posixpath.join(self.root, job_id)

    def local_path(self, job_id: str, name: str) -> str | None:
        """Where a file lies on this machine's disk, for a local store; None for a remote one."""
        return self.path(job_id, name) if self.is_local else None

    def exists(self, job_id: str, name: str) -> bool:
        return self.fs.exists(self.path(job_id, name))

    def job_ids(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        return sorted(posixpath.basename(entry.rstrip("/")) for entry in self.fs.ls(self.root, detail=False))

    def read_json(self, job_id: str, name: str) -> Any | None:
        """A JSON file of the job, or None if it is not there (yet)."""
        try:
            with self.fs.open(self.path(job_id, name), "rb") as file:
                return json.load(file)
        except FileNotFoundError:
            return None

    def read_bytes(self, job_id: str, name: str) -> bytes:
        return self.fs.cat_file(self.path(job_id, name))

    def write_json(self, job_id: str, name: str, value: Any) -> None:
        self.write_bytes(job_id, name, json.dumps(value, indent=1).encode())

    def write_bytes(self, job_id: str, name: str, data: bytes) -> None:
        with self.writing(job_id, name) as file:
            file.write(data)

    @contextmanager
    def writing(self, job_id: str, name: str) -> Iterator[IO[bytes]]:
        """A file of the job written piece by piece, in place once the block ends without error."""
        final = self.path(job_id, name)
        temporary = f"{final}.{uuid.uuid4().hex}.partial"
        self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        try:
            with self.fs.open(temporary, "wb") as file:
                yield file
            self.fs.mv(temporary, final)
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)

    def put_file(self, job_id: str, name: str, local_path: str) -> None:
        """A file made on this machine's disk, copied into the job's folder (moved into place)."""
        final = self.path(job_id, name)
        temporary = f"{final}.{uuid.uuid4().hex}.partial"
        self.fs.put_file(local_path, temporary)
        self.fs.mv(temporary, final)

    def open(self, job_id: str, name: str) -> IO[bytes]:
        return self.fs.open(self.path(job_id, name), "rb")

    def size(self, job_id: str, name: str) -> int:
        return int(self.fs.size(self.path(job_id, name)))

    def remove(self, job_id: str, name: str) -> None:
        if self.exists(job_id, name):
            self.fs.rm(self.path(job_id, name))

    def delete_job(self, job_id: str) -> None:
        self.fs.rm(self.path(job_id), recursive=True)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
