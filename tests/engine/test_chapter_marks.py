import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from mutagen.id3 import ID3

from engine.audio import SAMPLE_RATE, encode_whole
from engine.chapter_marks import ChapterMark, decoded_pcm16, write_chaptered_mp3

pytestmark = pytest.mark.unit

#: an MP3 frame: what a lossy decoder may add or cut at the ends
MP3_FRAME = 1152


def tone(hz: float, seconds: float) -> np.ndarray:
    times = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * times) * 8000).astype(np.int16)


def pieces(pcm16: np.ndarray, size: int = 7001) -> Iterator[np.ndarray]:
    for start in range(0, len(pcm16), size):
        yield pcm16[start : start + size]


BOOK = [("One", 1.5), ("Two — ünï", 2.25), ("Three", 0.8)]


def write_book(path: Path, chapters: list[tuple[str, float]] = BOOK) -> list[ChapterMark]:
    return write_chaptered_mp3(
        ((title, pieces(tone(440, seconds))) for title, seconds in chapters), path, title="A Book"
    )


def ffprobe_chapters(path: Path) -> list[tuple[str, float, float]]:
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return [
        (chapter["tags"]["title"], float(chapter["start_time"]), float(chapter["end_time"]))
        for chapter in json.loads(probed.stdout)["chapters"]
    ]


def test_the_marks_are_each_chapters_place_in_the_audio(tmp_path):
    marks = write_book(tmp_path / "book.mp3")
    assert marks == [
        ChapterMark("One", 0.0, 1.5),
        ChapterMark("Two — ünï", 1.5, 3.75),
        ChapterMark("Three", 3.75, 4.55),
    ]


def test_ffprobe_lists_the_chapters_in_order_with_their_titles_and_times(tmp_path):
    write_book(tmp_path / "book.mp3")
    assert ffprobe_chapters(tmp_path / "book.mp3") == [
        ("One", 0.0, 1.5),
        ("Two — ünï", 1.5, 3.75),
        ("Three", 3.75, 4.55),
    ]


def test_pyav_reads_the_chapters_and_the_whole_audio(tmp_path):
    write_book(tmp_path / "book.mp3")
    with av.open(str(tmp_path / "book.mp3")) as container:
        chapters = container.chapters()
    assert [(chapter["metadata"]["title"], chapter["start"], chapter["end"]) for chapter in chapters] == [
        ("One", 0, 1500),
        ("Two — ünï", 1500, 3750),
        ("Three", 3750, 4550),
    ]
    decoded = sum(len(piece) for piece in decoded_pcm16(tmp_path / "book.mp3"))
    assert abs(decoded - round(4.55 * SAMPLE_RATE)) <= MP3_FRAME


def test_the_tag_holds_the_books_title_and_a_table_of_contents(tmp_path):
    write_book(tmp_path / "book.mp3")
    tag = ID3(tmp_path / "book.mp3")
    (toc,) = tag.getall("CTOC")
    assert tag["TIT2"].text == ["A Book"]
    assert toc.child_element_ids == [
        chapter.element_id for chapter in sorted(tag.getall("CHAP"), key=lambda c: c.start_time)
    ]


def test_more_chapters_than_one_table_of_contents_lists_are_listed_by_tables_of_tables(tmp_path):
    chapters = [(f"Part {n}", 0.02) for n in range(300)]
    write_book(tmp_path / "book.mp3", chapters)
    listed = ffprobe_chapters(tmp_path / "book.mp3")
    assert [title for title, _, _ in listed] == [title for title, _ in chapters]
    assert listed[-1][1:] == pytest.approx((5.98, 6.0))
    tag = ID3(tmp_path / "book.mp3")
    top = next(toc for toc in tag.getall("CTOC") if toc.element_id == "toc")
    assert len(top.child_element_ids) == 2


@pytest.mark.parametrize("audio_format", ["wav", "flac", "mp3", "opus", "aac"])
def test_a_stored_chapter_file_decodes_to_its_pcm16(tmp_path, audio_format):
    pcm16 = tone(330, 1.0)
    path = tmp_path / f"chapter.{audio_format}"
    path.write_bytes(encode_whole(pcm16, audio_format))
    decoded_pieces = list(decoded_pcm16(path))
    assert all(piece.dtype == np.int16 and piece.ndim == 1 for piece in decoded_pieces)
    decoded = np.concatenate(decoded_pieces)
    if audio_format in ("wav", "flac"):
        np.testing.assert_array_equal(decoded, pcm16)
    else:
        assert abs(len(decoded) - len(pcm16)) <= 2 * MP3_FRAME


def test_the_whole_file_is_made_from_the_stored_chapter_files(tmp_path):
    for n, (_, seconds) in enumerate(BOOK):
        (tmp_path / f"{n}.flac").write_bytes(encode_whole(tone(440, seconds), "flac"))
    marks = write_chaptered_mp3(
        ((title, decoded_pcm16(tmp_path / f"{n}.flac")) for n, (title, _) in enumerate(BOOK)), tmp_path / "book.mp3"
    )
    assert [(mark.start_s, mark.end_s) for mark in marks] == [(0.0, 1.5), (1.5, 3.75), (3.75, 4.55)]


def test_float_samples_are_refused(tmp_path):
    with pytest.raises(TypeError, match="int16"):
        write_chaptered_mp3([("One", [np.zeros(100, dtype=np.float32)])], tmp_path / "book.mp3")
