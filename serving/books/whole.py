"""The whole book: its chapter files, decoded one after another, -> book.mp3 with ID3 chapter
marks, and the manifest that says where each chapter lies in it. Made last, from the files in the
store, so a resumed job's whole file holds the chapters made before the restart unchanged."""

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from engine.chapter_marks import decoded_pcm16, write_chaptered_mp3

from .chapter import ChapterRecord
from .schemas import BookManifest, BookRequest, ChapterEntry
from .store import BOOK_FILE, MANIFEST, BookStore


def make_whole_book(
    store: BookStore, job_id: str, request: BookRequest, language: str, records: Sequence[ChapterRecord]
) -> BookManifest:
    """Writes book.mp3 and manifest.json into the job's folder (blocking: run it in a thread)."""
    with tempfile.TemporaryDirectory(prefix="kokoro-book-") as scratch:
        book_path = Path(scratch) / BOOK_FILE

        def chapters() -> Iterator[tuple[str, Iterator[np.ndarray]]]:
            for record in records:
                yield record.title, decoded_pcm16(_local_copy(store, job_id, record.audio, Path(scratch)))

        marks = write_chaptered_mp3(chapters(), book_path)
        store.put_file(job_id, BOOK_FILE, str(book_path))
    entries = [
        ChapterEntry(
            number=record.number,
            title=record.title,
            audio=record.audio,
            srt=record.srt,
            vtt=record.vtt,
            timestamps=record.timestamps,
            duration_s=record.duration_s,
            offset_s=round(mark.start_s, 3),
            words=record.words,
            chars=record.chars,
        )
        for record, mark in zip(records, marks, strict=True)
    ]
    manifest = BookManifest(
        job_id=job_id,
        voice=request.voice,
        speed=request.speed,
        format=request.format,
        lang=language,
        book=BOOK_FILE,
        duration_s=round(marks[-1].end_s, 3) if marks else 0.0,
        words=sum(record.words for record in records),
        chars=sum(record.chars for record in records),
        chapters=entries,
    )
    store.write_json(job_id, MANIFEST, manifest.model_dump(mode="json"))
    return manifest


def _local_copy(store: BookStore, job_id: str, name: str, scratch: Path) -> Path:
    """A chapter file on this machine's disk: where it lies in a local store, else downloaded."""
    local = store.local_path(job_id, name)
    if local is not None:
        return Path(local)
    copy = scratch / Path(name).name
    store.fs.get_file(store.path(job_id, name), str(copy))
    return copy
