"""The books API's routes: a job made from a book, its status, its chapters while later ones are
still being made, the whole file, the manifest, and a cancel. Every answer comes from the store,
so any replica sharing it answers for any job.

POST /books takes the book itself as the body (text, Markdown or an EPUB file) and the settings
in the query, so that a bad book or setting is a 400 at once; BentoML's task endpoint
(POST /narrate_book/submit, service.py) makes the same job, its errors in the task's result.
"""

import re
from collections.abc import AsyncIterator
from typing import get_args

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from engine.audio import STREAM_ENCODERS
from engine.books import BookFormat

from ..core.errors import ApiError, BadRequest
from ..core.request import explain, read_body
from .chapter import WORDS_SUFFIX
from .jobs import BookJobs
from .runner import read_status
from .schemas import BookRequest
from .store import BOOK_FILE, MANIFEST, BookStore, chapter_name

PATH_PREFIX = "/books"
ROUTES = frozenset({PATH_PREFIX})
ENDPOINTS = {
    "POST /books": "A book (text, Markdown or EPUB as the body) -> a job making chaptered audio with captions",
    "GET /books/{job_id}": "A book job's progress: chapters and characters done, audio made, time left",
    "GET /books/{job_id}/chapters/{n}.{mp3|opus|wav|flac|srt|vtt|words.json}": "A finished chapter's audio, "
    "captions or word timestamps",
    "GET /books/{job_id}/book.mp3": "The whole book, with chapter marks",
    "GET /books/{job_id}/manifest.json": "The chapters, titles, durations, offsets and word counts",
    "POST /books/{job_id}/cancel": "Stops a book job after the chunk in hand; the chapters done are kept",
}
#: the longest book body read: an EPUB carries its markup and pictures besides its text
MAX_BOOK_BYTES = 64 * 1024 * 1024
#: a job's id as job_key makes it; anything else is no job (and never a path)
JOB_ID = re.compile(r"[0-9a-f]{32}")
CAPTION_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", WORDS_SUFFIX: "application/json"}
MEDIA_TYPES = {**{name: STREAM_ENCODERS[name].media_type for name in ("mp3", "opus", "wav", "flac")}, **CAPTION_TYPES}
#: bytes read from a remote store at a time, for a file sent on
READ_BYTES = 1024 * 1024


class NotFound(ApiError):
    status = 404


def books_of(request: Request) -> BookJobs:
    books: BookJobs | None = getattr(request.app.state, "books", None)
    if books is None:
        raise NotFound("book jobs are not served here")
    return books


def register(app: FastAPI) -> None:
    @app.post(PATH_PREFIX, status_code=202, tags=["books"])
    async def submit(request: Request) -> JSONResponse:
        books = books_of(request)
        settings, book_format = book_settings(dict(request.query_params))
        data = await read_body(request, MAX_BOOK_BYTES)
        job_id = await books.open_job(data, book_format, settings)
        books.start(job_id)
        status = await anyio.to_thread.run_sync(read_status, books.store, job_id)
        return JSONResponse({"job_id": job_id, "status": status.model_dump(mode="json") if status else None}, 202)

    @app.get(PATH_PREFIX + "/{job_id}", tags=["books"])
    async def status(job_id: str, request: Request) -> JSONResponse:
        books = books_of(request)
        status = await anyio.to_thread.run_sync(read_status, books.store, checked_job(job_id))
        if status is None:
            raise NotFound(f"no book job {job_id!r}")
        return JSONResponse(status.model_dump(mode="json"))

    @app.post(PATH_PREFIX + "/{job_id}/cancel", tags=["books"])
    async def cancel(job_id: str, request: Request) -> JSONResponse:
        status = await books_of(request).cancel(checked_job(job_id))
        if status is None:
            raise NotFound(f"no book job {job_id!r}")
        return JSONResponse(status.model_dump(mode="json"))

    @app.get(PATH_PREFIX + "/{job_id}/manifest.json", tags=["books"])
    async def manifest(job_id: str, request: Request) -> Response:
        return await stored_file(books_of(request).store, checked_job(job_id), MANIFEST, "application/json")

    @app.get(PATH_PREFIX + "/{job_id}/" + BOOK_FILE, tags=["books"])
    async def whole_book(job_id: str, request: Request) -> Response:
        return await stored_file(books_of(request).store, checked_job(job_id), BOOK_FILE, MEDIA_TYPES["mp3"])

    @app.get(PATH_PREFIX + "/{job_id}/chapters/{name}", tags=["books"])
    async def chapter_file(job_id: str, name: str, request: Request) -> Response:
        number, _, suffix = name.partition(".")
        if not number.isdigit() or not 0 < int(number) < 100_000 or suffix not in MEDIA_TYPES:
            raise NotFound(f"no chapter file {name!r}: ask for e.g. 001.mp3, 001.srt, 001.vtt or 001.words.json")
        file = chapter_name(int(number) - 1, suffix)
        return await stored_file(books_of(request).store, checked_job(job_id), file, MEDIA_TYPES[suffix])


def book_settings(query: dict[str, str]) -> tuple[BookRequest, BookFormat]:
    """The job's settings from POST /books's query, or a 400 naming the field."""
    book_format = query.pop("book_format", "text")
    if book_format not in get_args(BookFormat):
        raise BadRequest(f"'book_format' must be one of {', '.join(get_args(BookFormat))}; got {book_format!r}")
    try:
        return BookRequest.model_validate(query), book_format  # type: ignore[return-value]
    except ValidationError as exc:
        raise BadRequest(explain(exc)) from None


def checked_job(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise NotFound(f"no book job {job_id!r}")
    return job_id


async def stored_file(store: BookStore, job_id: str, name: str, media_type: str) -> Response:
    """A file of the job as it is in the store (a 404 until it is there: a chapter not made yet)."""
    if not await anyio.to_thread.run_sync(store.exists, job_id, name):
        raise NotFound(f"{name} of book job {job_id} is not made (yet); GET /books/{job_id} says how far it is")
    local = store.local_path(job_id, name)
    if local is not None:
        return FileResponse(local, media_type=media_type)
    size = await anyio.to_thread.run_sync(store.size, job_id, name)
    return StreamingResponse(_read(store, job_id, name), media_type=media_type, headers={"Content-Length": str(size)})


async def _read(store: BookStore, job_id: str, name: str) -> AsyncIterator[bytes]:
    file = await anyio.to_thread.run_sync(store.open, job_id, name)
    try:
        while piece := await anyio.to_thread.run_sync(file.read, READ_BYTES):
            yield piece
    finally:
        file.close()
