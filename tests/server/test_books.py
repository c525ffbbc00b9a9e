"""Books through BentoML's own Python client against the live server: a small Markdown book and
the same as an EPUB, their chapter files, captions that parse and lie inside the audio, and the
whole file whose chapter marks ffprobe lists where the manifest says."""

import asyncio
import io
import json
import shutil
import subprocess
from pathlib import Path

import av
import bentoml
import pytest
import requests
import srt
import webvtt

from tests.books_fixtures import make_epub

pytestmark = pytest.mark.server

CHAPTERS = [
    ("The Harbour", "The boats came in at dawn. Gulls followed them, loud and hungry."),
    ("The Market", "By noon the fish were sold. The square was quiet again."),
    ("The Storm", "At night the wind rose. Nobody went out."),
]
MARKDOWN = "\n\n".join(f"# {title}\n\n{text}" for title, text in CHAPTERS)


async def narrated(server: str, **book: object) -> dict:
    async with bentoml.AsyncHTTPClient(server, timeout=600) as client:
        task = await client.narrate_book.submit(voice="af_heart", format="mp3", **book)
        while (await task.get_status()).value == "in_progress":
            await asyncio.sleep(0.5)
        return await task.get()


def audio_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        return sum(frame.samples for frame in container.decode(audio=0)) / 24_000


def check_cues_hold_their_words(cues: list[srt.Subtitle], words: list[dict]) -> None:
    """Each cue's words, as the chapter's word timestamps time them, are spoken inside the cue."""
    pieces, text, start = [], "", None  # words the text writes together ("dawn" and ".")
    for word in words:
        start = word["start_s"] if start is None else start
        text += word["word"]
        if word["whitespace"]:
            pieces.append((text, start, word["end_s"]))
            text, start = "", None
    if text:
        pieces.append((text, start, words[-1]["end_s"]))
    for cue in cues:
        shown = cue.content.split()
        said, pieces = pieces[: len(shown)], pieces[len(shown) :]
        assert [text for text, *_ in said] == shown
        assert cue.start.total_seconds() - 0.01 <= said[0][1] and said[-1][2] <= cue.end.total_seconds() + 0.01
    assert not pieces


def check_book(server: str, manifest: dict, tmp_path: Path) -> None:
    base = f"{server}/books/{manifest['job_id']}"
    assert [chapter["title"] for chapter in manifest["chapters"]] == [title for title, _ in CHAPTERS]
    status = requests.get(base, timeout=10).json()
    assert status["state"] == "done" and status["chapters_done"] == 3 and status["audio_s"] > 0
    for chapter in manifest["chapters"]:
        audio = requests.get(f"{base}/{chapter['audio']}", timeout=30).content
        duration = audio_seconds(audio)
        assert abs(duration - chapter["duration_s"]) < 0.2
        subtitles = list(srt.parse(requests.get(f"{base}/{chapter['srt']}", timeout=10).text))
        captions = webvtt.from_buffer(io.StringIO(requests.get(f"{base}/{chapter['vtt']}", timeout=10).text))
        assert len(subtitles) == len(captions) > 0
        assert all(cue.start < cue.end for cue in subtitles)
        assert subtitles[-1].end.total_seconds() <= duration + 0.05
        check_cues_hold_their_words(subtitles, requests.get(f"{base}/{chapter['timestamps']}", timeout=10).json())
        spoken = " ".join(cue.content for cue in subtitles).split()
        # a chapter's audio says its title, then its text
        assert spoken[: len(chapter["title"].split())] == chapter["title"].split()
        assert spoken[-1] == dict(CHAPTERS)[chapter["title"]].split()[-1]
    book = tmp_path / f"{manifest['job_id']}.mp3"
    book.write_bytes(requests.get(f"{base}/book.mp3", timeout=30).content)
    if shutil.which("ffprobe"):
        probed = subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(book)], capture_output=True, check=True
        )
        marks = json.loads(probed.stdout)["chapters"]
        assert [mark["tags"]["title"] for mark in marks] == [title for title, _ in CHAPTERS]
        for mark, chapter in zip(marks, manifest["chapters"], strict=True):
            assert abs(float(mark["start_time"]) - chapter["offset_s"]) < 0.01


def test_a_markdown_book_through_bentomls_client(server, tmp_path):
    manifest = asyncio.run(narrated(server, text=MARKDOWN, book_format="markdown"))
    check_book(server, manifest, tmp_path)


def test_the_same_book_as_an_epub_upload(server, tmp_path):
    epub = tmp_path / "book.epub"
    epub.write_bytes(make_epub(CHAPTERS))
    manifest = asyncio.run(narrated(server, file=epub, book_format="epub"))
    check_book(server, manifest, tmp_path)


def test_a_bad_book_fails_its_task_with_the_reason(server, tmp_path):
    not_epub = tmp_path / "book.epub"
    not_epub.write_bytes(b"this is no zip file")
    with pytest.raises(bentoml.exceptions.BentoMLException, match="EPUB"):
        asyncio.run(narrated(server, file=not_epub, book_format="epub"))
    answer = requests.post(f"{server}/books?book_format=epub&voice=af_heart", data=b"no zip", timeout=10)
    assert answer.status_code == 400 and "EPUB" in answer.json()["error"]
