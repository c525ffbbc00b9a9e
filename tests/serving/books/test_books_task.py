"""BentoML's task API in front of the book jobs: what serving/books/task.py relies on in the
BentoML installed (each test fails if it changes), and the cancel and key checks it adds."""

import asyncio
import inspect

import httpx
import pytest
from _bentoml_impl.server.app import ServiceAppFactory
from _bentoml_impl.server.serving import server_on_deployment
from _bentoml_impl.tasks import ResultStatus, Sqlite3Store
from starlette.requests import Request
from starlette.responses import JSONResponse

from serving.books.jobs import BookJobs
from serving.books.schemas import BookStatus
from serving.books.store import BookStore
from serving.books.task import TASK_PATH, TaskCancel

pytestmark = pytest.mark.unit

JOB_ID = "ab" * 16


def test_bentoml_runs_a_task_with_its_id_in_the_request_state_and_records_any_ending():
    """narrate_book reads its task id from the request's state; a cancelled task's row is then
    overwritten by the method's ending (FAILED), as task.py's docstring says."""
    source = inspect.getsource(ServiceAppFactory._run_task)
    assert "request.state.task_id = task_id" in source
    assert "set_result(" in source and "ResultStatus.FAILED" in source


def test_bentoml_deletes_its_task_store_at_each_start():
    """Why a task id does not outlive its server (docs/books.md), while its book job does."""
    source = inspect.getsource(server_on_deployment)
    assert "os.remove(result_file)" in source and "init_db(result_file)" in source


def test_bentoml_local_cancel_only_marks_the_row_and_answers_400(tmp_path):
    """What TaskCancel replaces: the row is marked, nothing stops, the client gets a 400."""

    async def cancel_one() -> tuple[int, ResultStatus]:
        database = str(tmp_path / "tasks.db")
        Sqlite3Store.init_db(database)
        async with Sqlite3Store(database) as results:
            scope = {"type": "http", "method": "POST", "path": "/x", "headers": [], "query_string": b""}

            async def empty_body() -> dict:
                return {"type": "http.request", "body": b"", "more_body": False}

            task_id = await results.new_entry("narrate_book", Request(scope, empty_body))
            factory = object.__new__(ServiceAppFactory)
            factory._result_store = results
            factory._add_response_headers = lambda response: None
            cancel_scope = {**scope, "method": "PUT", "query_string": f"task_id={task_id}".encode()}
            answer = await factory.cancel_task(Request(cancel_scope))
            return answer.status_code, (await results.get_status(task_id)).status

    assert asyncio.run(cancel_one()) == (400, ResultStatus.CANCELED)


def bentoml_answers(status: int):
    async def app(scope, receive, send) -> None:
        await JSONResponse({"error": "from BentoML"}, status)(scope, receive, send)

    return app


def jobs_with_one_running(tmp_path) -> BookJobs:
    books = BookJobs(BookStore(str(tmp_path)), lambda: None, keep_s=60, max_chars=1_000)
    status = BookStatus(
        job_id=JOB_ID, state="queued", chapters_total=2, chapters_done=1, chars_total=10, chars_done=5,
        audio_s=1.0, elapsed_s=1.0, updated_at=0.0,
    )  # fmt: skip
    books.store.write_json(JOB_ID, "status.json", status.model_dump(mode="json"))
    books.task_jobs["t1"] = JOB_ID
    return books


async def call(app, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tts.test") as client:
        return await client.request(method, path, headers=headers)


def test_cancelling_the_task_stops_its_book_job_and_answers_200(tmp_path):
    books = jobs_with_one_running(tmp_path)
    app = TaskCancel(bentoml_answers(400), lambda: books, api_key=None)
    answer = asyncio.run(call(app, "PUT", f"{TASK_PATH}/cancel?task_id=t1"))
    assert answer.status_code == 200 and answer.json() == {"task_id": "t1", "status": "canceled"}
    assert books.store.read_json(JOB_ID, "status.json")["state"] == "cancelled"
    assert books.store.exists(JOB_ID, "cancel")
    # a task that waits for no book job is BentoML's to answer
    assert asyncio.run(call(app, "PUT", f"{TASK_PATH}/cancel?task_id=other")).status_code == 400


def test_the_task_routes_want_the_api_key_when_one_is_set(tmp_path):
    app = TaskCancel(bentoml_answers(200), lambda: None, api_key="secret")
    refused = asyncio.run(call(app, "POST", f"{TASK_PATH}/submit"))
    assert refused.status_code == 401 and "API key" in refused.json()["error"]
    assert asyncio.run(call(app, "POST", f"{TASK_PATH}/submit", {"Authorization": "Bearer secret"})).status_code == 200
    assert asyncio.run(call(app, "GET", "/livez")).status_code == 200  # BentoML's probes stay open
