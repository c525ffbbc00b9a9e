"""BentoML's task API in front of the book jobs: `client.narrate_book.submit(...)`, get_status,
get, cancel (service.py declares the task; this is what it does).

What BentoML 1.4 does by itself when served locally, and what is ours (checked in its
_bentoml_impl/server/app.py and tests/serving/test_books_task.py):
- submit answers at once and runs the task in the background: its input is not read until then,
  so a bad book is a failed task whose result is the 400 (POST /books answers 400 at submit);
- cancel only marks the task's row CANCELED and answers 400 ("not supported in local development
  server"): `TaskCancel` stops our job first and answers 200, so `client.narrate_book.cancel()`
  works; the task then ends FAILED with "cancelled" in its result, as BentoML records every
  task whose method ended in an error;
- BentoML deletes its task store (task_result.db) each time the server starts: a task id does not
  outlive its server. The job does: it resumes at the next start (serving.books.jobs); its client
  follows it by its job id (GET /books/{job_id}), or sends the same book again, a new task that
  joins the job.
"""

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs

import anyio
from bentoml.exceptions import BentoMLException, InvalidArgument
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.books import BookFormat

from ..core.access import carries_key
from ..core.errors import ApiError, Unauthorized
from .jobs import BookJobs
from .runner import JobFailed, Stopped
from .schemas import BookManifest, BookRequest

log = logging.getLogger("kokoro_tts")
TASK_NAME = "narrate_book"
TASK_PATH = f"/{TASK_NAME}"


async def narrate_task(
    books: BookJobs, task_id: str | None, text: str, file: Path | None, book_format: BookFormat, request: BookRequest
) -> BookManifest:
    """The task's body: the job made (or joined) and awaited; its errors as BentoML renders them."""
    if (file is None) == (not text):
        raise InvalidArgument("send the book as `text` or as a `file` (an EPUB, Markdown or text file), one of them")
    data = await anyio.Path(file).read_bytes() if file is not None else text.encode()
    try:
        job_id = await books.open_job(data, book_format, request)
        if task_id:
            books.task_jobs[task_id] = job_id  # while the task waits: cancelling it stops the job
        return await books.narrate(job_id)
    except ApiError as exc:
        if exc.status >= 500:
            raise BentoMLException(exc.message, error_code=HTTPStatus(exc.status)) from None
        raise InvalidArgument(exc.message) from None
    except JobFailed as exc:
        raise BentoMLException(f"the book failed at {exc}", error_code=HTTPStatus.UNPROCESSABLE_ENTITY) from None
    except Stopped as exc:
        raise BentoMLException(f"the book job was stopped: {exc}", error_code=HTTPStatus.CONFLICT) from None
    finally:
        books.task_jobs.pop(task_id or "", None)


class TaskCancel:
    """An ASGI middleware on the BentoML service: PUT /narrate_book/cancel?task_id= stops the book
    job the task waits for (after its chunk in hand; the chapters done are kept) and answers 200;
    BentoML still marks the task's row. With an API key set, the task's routes want it too: they
    are BentoML's, not the app's, so the app's key check never sees them."""

    def __init__(self, app: ASGIApp, books: Callable[[], BookJobs | None], api_key: str | None):
        self.app = app
        self.books = books
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(TASK_PATH + "/"):
            return await self.app(scope, receive, send)
        if self.key is not None and not carries_key(scope, self.key):
            refused = Unauthorized("send the API key as 'Authorization: Bearer <key>'")
            return await refused.response()(scope, receive, send)
        books = self.books()
        if path != f"{TASK_PATH}/cancel" or scope["method"] != "PUT" or books is None:
            return await self.app(scope, receive, send)
        task_id = parse_qs(scope["query_string"].decode("latin-1")).get("task_id", [""])[0]
        job_id = books.task_jobs.get(task_id)
        if job_id is None:
            return await self.app(scope, receive, send)
        await books.cancel(job_id)
        await self.app(scope, receive, _answered_ok(send, task_id))


def _answered_ok(send: Send, task_id: str) -> Send:
    """`send`, with BentoML's answer to a cancel (400 when served locally) replaced by a 200."""
    body = json.dumps({"task_id": task_id, "status": "canceled"}).encode()

    async def replaced(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            await send({"type": "http.response.body", "body": body, "more_body": False})

    return replaced
