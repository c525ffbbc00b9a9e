"""Book jobs in-process: serving/books with the real planner and the fake synthesizer (silence, 2
frames a token), a local store in a temporary folder. Order, cancel and resume are asserted on
held calls and events, never on how long anything took."""

import asyncio
import hashlib
import json
from pathlib import Path

import av
import pytest

from serving.books.jobs import BookJobs
from serving.books.runner import LEASE_S, JobFailed, Stopped
from serving.books.store import BookStore
from serving.core.config import ServingSettings
from tests.books_fixtures import make_epub
from tests.serving.conftest import WAIT_S, Clock, eventually, serve_until_done

pytestmark = [pytest.mark.http, pytest.mark.anyio]

BOOK = (
    "# The First Chapter\n\nThe fox ran over the hill. It was a bright morning.\n\n"
    "# The Second Chapter\n\nThe dog slept by the door. Nobody woke it up.\n\n"
    "# The Third Chapter\n\nThen the rain came. Everyone went home.\n"
)
QUERY = "book_format=markdown&voice=af_heart&format=mp3"


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.now = 1_000_000.0
    return clock


@pytest.fixture
def books_server(make_server, tmp_path, clock):
    """A served app with book jobs in `tmp_path`; `held` as make_server's."""

    def make(held: bool = False, keep_s: float = 3_600.0, max_chars: int = 100_000, replica: str = "here"):
        served = make_server(held=held)
        books = BookJobs(BookStore(str(tmp_path)), lambda: served.server, keep_s, max_chars, replica, clock)
        served.app.state.books = books
        return served, books

    return make


async def submitted(served, body: bytes | str = BOOK, query: str = QUERY) -> str:
    answer = await served.client.post(f"/books?{query}", content=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0)) / 24_000


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_book_becomes_chapters_captions_a_whole_file_and_a_manifest(books_server, tmp_path):
    served, books = books_server()
    job_id = await submitted(served)
    manifest = await asyncio.wait_for(books.narrate(job_id), WAIT_S)

    assert [chapter.title for chapter in manifest.chapters] == [
        "The First Chapter",
        "The Second Chapter",
        "The Third Chapter",
    ]
    folder = tmp_path / job_id
    for number in ("001", "002", "003"):
        for suffix in ("mp3", "srt", "vtt", "json"):
            assert (folder / "chapters" / f"{number}.{suffix}").stat().st_size > 0
    assert (folder / "book.mp3").stat().st_size > 0
    assert json.loads((folder / "manifest.json").read_text())["chapters"][1]["audio"] == "chapters/002.mp3"
    offsets = [chapter.offset_s for chapter in manifest.chapters]
    assert offsets[0] == 0 and offsets == sorted(offsets) and manifest.duration_s > offsets[-1]
    # each chapter file decodes to its own length exactly (no encoder delay or padding), so its
    # captions line up with it and it starts in book.mp3 where the one before ends
    for chapter, next_offset in zip(manifest.chapters, [*offsets[1:], manifest.duration_s], strict=True):
        assert decoded_seconds(folder / chapter.audio) == pytest.approx(chapter.duration_s, abs=0.002)
        assert next_offset == pytest.approx(chapter.offset_s + chapter.duration_s, abs=0.002)
    assert all(chapter.words > 0 and chapter.duration_s > 0 for chapter in manifest.chapters)

    status = (await served.client.get(f"/books/{job_id}")).json()
    assert status["state"] == "done" and status["chapters_done"] == 3
    assert status["chars_done"] == status["chars_total"] and status["audio_s"] > 0
    vtt = await served.client.get(f"/books/{job_id}/chapters/002.vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT") and "dog" in vtt.text
    srt = await served.client.get(f"/books/{job_id}/chapters/001.srt")
    assert "-->" in srt.text
    # the heading and the text are chunks of their own: the captions keep the space between them
    assert "The First Chapter The fox ran" in " ".join(srt.text.split())
    audio = await served.client.get(f"/books/{job_id}/chapters/003.mp3")
    assert audio.headers["content-type"] == "audio/mpeg" and audio.content == (folder / "chapters/003.mp3").read_bytes()
    words = (await served.client.get(f"/books/{job_id}/chapters/001.words.json")).json()
    assert [word["word"] for word in words][:5] == ["The", "First", "Chapter", "The", "fox"]
    assert all(word["start_s"] <= word["end_s"] for word in words)
    assert (await served.client.get(f"/books/{job_id}/book.mp3")).status_code == 200
    assert (await served.client.get(f"/books/{job_id}/manifest.json")).json()["job_id"] == job_id


async def test_a_remote_store_through_fsspec_holds_the_same_files(make_server):
    """fsspec's in-memory filesystem stands for a bucket: nothing is read from a local path."""
    served = make_server()
    store = BookStore(f"memory://books-{id(served)}")
    assert not store.is_local
    served.app.state.books = books = BookJobs(store, lambda: served.server, 60, 100_000, "here")
    job_id = await submitted(served)
    manifest = await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    book = await served.client.get(f"/books/{job_id}/book.mp3")
    assert book.status_code == 200 and book.content == store.read_bytes(job_id, "book.mp3")
    assert int(book.headers["content-length"]) == len(book.content)
    vtt = await served.client.get(f"/books/{job_id}/{manifest.chapters[2].vtt}")
    assert vtt.text.startswith("WEBVTT") and "rain" in vtt.text
    store.delete_job(job_id)


async def test_the_same_book_again_joins_its_job_and_makes_nothing_twice(books_server):
    served, books = books_server()
    job_id = await submitted(served)
    await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    chunks = served.fake.started

    assert await submitted(served) == job_id
    await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    assert served.fake.started == chunks
    assert await submitted(served, query=QUERY.replace("af_heart", "af_bella")) != job_id


async def test_an_epub_is_read_in_spine_order_with_its_titles(books_server):
    served, books = books_server()
    epub = make_epub([("Arrival", "The train was late. We waited."), ("Departure", "Then we left again.")])
    job_id = await submitted(served, epub, "book_format=epub&voice=af_heart&format=opus")
    manifest = await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    assert [chapter.title for chapter in manifest.chapters] == ["Arrival", "Departure"]
    assert manifest.chapters[0].audio == "chapters/001.opus"


async def test_a_chapter_is_served_while_later_ones_are_still_being_made(books_server, clock):
    served, books = books_server(held=True)
    job_id = await submitted(served)
    while not (books.store.exists(job_id, "chapters/001.json")):
        clock.now += 10  # each chunk took 10 s
        (await served.fake.next_call()).release()
    await eventually(lambda: books.store.read_json(job_id, "status.json")["chapters_done"] == 1)
    chapter = await served.client.get(f"/books/{job_id}/chapters/001.mp3")
    assert chapter.status_code == 200 and chapter.content
    later = await served.client.get(f"/books/{job_id}/chapters/003.mp3")
    assert later.status_code == 404 and "not made" in later.json()["error"]
    status = (await served.client.get(f"/books/{job_id}")).json()
    assert status["state"] == "running" and status["chapters_done"] == 1 and status["eta_s"] is not None
    await books.cancel(job_id)
    served.fake.held = False
    while served.fake.waiting_calls():
        (await served.fake.next_call()).release()


async def test_cancel_stops_the_job_within_one_chunk_and_keeps_what_was_done(books_server):
    served, books = books_server(held=True)
    job_id = await submitted(served)
    narrating = asyncio.ensure_future(books.narrate(job_id))
    first = await served.fake.next_call()
    answer = await served.client.post(f"/books/{job_id}/cancel")
    assert answer.status_code == 200
    first.release()
    # the chunk asked for one ahead gets the lane as the first comes back, and is never sent
    await serve_until_done(served.fake, narrating)
    with pytest.raises(Stopped):
        await narrating
    assert served.fake.started == 1
    status = (await served.client.get(f"/books/{job_id}")).json()
    assert status["state"] == "cancelled" and status["chapters_done"] == 0
    assert books.store.exists(job_id, "cancel")


async def test_a_failed_chapter_says_which_and_why_and_the_chapters_before_stay(books_server, tmp_path):
    served, books = books_server()
    served.fake.failures = {4: RuntimeError("the model fell over")}
    job_id = await submitted(served)
    with pytest.raises(JobFailed):
        await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    status = (await served.client.get(f"/books/{job_id}")).json()
    assert status["state"] == "failed"
    assert status["failure"] == {"chapter": 2, "reason": "the model fell over"}
    assert (tmp_path / job_id / "chapters/001.mp3").exists()
    assert not (tmp_path / job_id / "chapters/002.json").exists()

    kept = digest(tmp_path / job_id / "chapters/001.mp3")
    chunks = served.fake.started
    assert await submitted(served) == job_id  # sent again: resumed from chapter 2
    manifest = await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    assert len(manifest.chapters) == 3 and digest(tmp_path / job_id / "chapters/001.mp3") == kept
    assert served.fake.started - chunks == 4  # chapters 2 and 3: two sentences each


async def test_a_server_stopped_mid_book_resumes_it_from_the_first_unfinished_chapter(books_server, tmp_path, clock):
    served, books = books_server(held=True)
    job_id = await submitted(served)
    while not books.store.exists(job_id, "chapters/001.json"):
        (await served.fake.next_call()).release()
    kept = digest(tmp_path / job_id / "chapters/001.mp3")
    books.stop_all()  # SIGTERM: the run stops after its chunk in hand
    served.fake.held = False
    while served.fake.waiting_calls():
        (await served.fake.next_call()).release()
    await eventually(lambda: json.loads((tmp_path / job_id / "status.json").read_text())["state"] == "queued")

    restarted, resumed_books = books_server(replica="restarted")
    assert await resumed_books.resume_all() == [job_id]
    manifest = await asyncio.wait_for(resumed_books.narrate(job_id), WAIT_S)
    assert len(manifest.chapters) == 3 and digest(tmp_path / job_id / "chapters/001.mp3") == kept
    assert restarted.fake.started == 4  # chapters 2 and 3 only


async def test_a_job_whose_replica_is_alive_is_not_taken_over_and_a_gone_ones_is(books_server, clock):
    served, books = books_server(held=True)
    job_id = await submitted(served)
    first = await served.fake.next_call()
    _, elsewhere = books_server(replica="elsewhere")
    assert await elsewhere.resume_all() == []
    clock.now += LEASE_S + 1  # no heartbeat for longer than a lease: that replica is gone
    assert await elsewhere.resume_all() == [job_id]
    assert len((await asyncio.wait_for(elsewhere.narrate(job_id), WAIT_S)).chapters) == 3
    books.stop_all()
    served.fake.held = False
    first.release()
    await eventually(lambda: not served.fake.waiting_calls())


async def test_finished_jobs_are_deleted_once_older_than_the_keep_time(books_server, tmp_path, clock):
    served, books = books_server(keep_s=60)
    job_id = await submitted(served)
    await asyncio.wait_for(books.narrate(job_id), WAIT_S)
    clock.now += 59
    assert await books.expire() == []
    clock.now += 2
    assert await books.expire() == [job_id]
    assert not (tmp_path / job_id).exists()
    assert (await served.client.get(f"/books/{job_id}")).status_code == 404


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("book_format=markdown&voice=xx_nobody", BOOK, "Voice 'xx_nobody' not found"),
        ("book_format=epub&voice=af_heart", b"this is no zip file", "EPUB"),
        ("book_format=markdown&voice=af_heart", "   \n\n  ", "no text"),
        ("book_format=markdown&voice=af_heart", "word " * 30_000, "limit"),
        ("book_format=pdf&voice=af_heart", BOOK, "book_format"),
        ("book_format=markdown&voice=af_heart&format=aac", BOOK, "format"),
        ("book_format=markdown&voice=af_heart&speed=9", BOOK, "speed"),
    ],
)
async def test_a_bad_book_or_setting_is_a_400_naming_it(books_server, query, body, field):
    served, _ = books_server()
    answer = await served.client.post(f"/books?{query}", content=body)
    assert answer.status_code == 400, answer.text
    assert field.lower() in answer.json()["error"].lower()


async def test_the_books_routes_want_the_api_key_when_one_is_set(make_server, tmp_path):
    served = make_server(settings=ServingSettings(api_key="secret"))
    served.app.state.books = BookJobs(BookStore(str(tmp_path)), lambda: served.server, 60, 1_000, "here")
    assert (await served.client.post(f"/books?{QUERY}", content=BOOK)).status_code == 401
    assert (await served.client.get("/books/" + "0" * 32)).status_code == 401
    keyed = await served.client.get("/books/" + "0" * 32, headers={"Authorization": "Bearer secret"})
    assert keyed.status_code == 404


async def test_an_unknown_job_or_file_is_a_404(books_server):
    served, _ = books_server()
    assert (await served.client.get("/books/" + "0" * 32)).status_code == 404
    assert (await served.client.get("/books/../../etc/passwd")).status_code == 404
    assert (await served.client.get(f"/books/{'0' * 32}/chapters/001.exe")).status_code == 404
    assert (await served.client.post(f"/books/{'0' * 32}/cancel")).status_code == 404
