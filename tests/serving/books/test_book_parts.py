"""A chapter too long for one job step, cut into parts at paragraph, sentence or word ends."""

import pytest

from engine.books import Chapter
from serving.books.parts import in_parts

pytestmark = pytest.mark.unit


def test_a_short_chapter_stays_whole():
    chapters = [Chapter("One", "Short text."), Chapter("Two", "Also short.")]
    assert in_parts(chapters, max_chars=100) == chapters


def test_a_long_chapter_is_cut_at_paragraph_breaks_first_then_sentence_ends():
    paragraph = "A sentence here. Another one there. " * 3  # 108 characters
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = in_parts([Chapter("Long", text)], max_chars=250)
    assert [part.title for part in parts] == ["Long (part 1)", "Long (part 2)"]
    assert all(len(part.text) <= 250 for part in parts)
    assert parts[0].text.endswith("there.") and parts[1].text.startswith("A sentence")
    assert " ".join(" ".join(part.text.split()) for part in parts) == " ".join(text.split())


def test_text_with_no_break_at_all_is_cut_at_the_limit():
    parts = in_parts([Chapter("Run", "x" * 1_000)], max_chars=300)
    assert [len(part.text) for part in parts] == [300, 300, 300, 100]


def test_a_book_with_no_headings_is_cut_into_parts_of_about_an_hour():
    text = ("word " * 20_000 + "\n\n") * 20  # 2,000,040 characters
    parts = in_parts([Chapter("Book", text)])
    assert len(parts) == 41 and sum(len(part.text) for part in parts) > 1_999_000
