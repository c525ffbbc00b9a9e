import contextlib
import functools
import io
import time
import zipfile
from collections.abc import Callable

import pytest
from ebooklib import epub

from engine.books import MAX_BOOK_CHARS, BookError, Chapter, read_book
from engine.errors import InvalidInput
from tests.books_fixtures import make_epub

pytestmark = pytest.mark.unit


def test_plain_text_chapters_begin_at_heading_lines():
    text = (
        "Chapter 1\nIt was dark.\n\n\n\nThe wind rose.\n"
        "CHAPTER TWO\nMorning came.\n"
        "Chapter IV: The Storm\nRain fell.\n"
        "Chapter twenty-one. Home\nThey were home.\n"
    )
    chapters = read_book(text.encode(), "text")
    assert [chapter.title for chapter in chapters] == [
        "Chapter 1",
        "CHAPTER TWO",
        "Chapter IV: The Storm",
        "Chapter twenty-one. Home",
    ]
    assert chapters[0] == Chapter("Chapter 1", "Chapter 1\nIt was dark.\n\nThe wind rose.")
    assert chapters[2].text == "Chapter IV: The Storm\nRain fell."


def test_a_sentence_that_begins_with_chapter_is_no_heading():
    (chapter,) = read_book(b"Chapter 1 was the longest.\nChapter 2 was short.", "text")
    assert chapter.title == "Chapter 1"
    assert chapter.text == "Chapter 1 was the longest.\nChapter 2 was short."


def test_text_without_headings_is_one_chapter():
    assert read_book(b"Just a story.\nThe end.", "text") == [Chapter("Chapter 1", "Just a story.\nThe end.")]


def test_text_before_the_first_heading_is_a_chapter_only_if_it_has_words():
    with_words = read_book(b"The Book of Days\nby A. Writer\n\nChapter 1\nIt began.", "text")
    assert [chapter.title for chapter in with_words] == ["The Book of Days", "Chapter 1"]
    without_words = read_book(b"\n * * * \n\nChapter 1\nIt began.", "text")
    assert [chapter.title for chapter in without_words] == ["Chapter 1"]


def test_text_is_utf8_with_or_without_a_byte_order_mark_and_any_line_ends():
    (chapter,) = read_book("\ufeffCafé au lait.\r\nDone.\rYes.".encode(), "text")
    assert chapter.text == "Café au lait.\nDone.\nYes."
    with pytest.raises(BookError, match="not UTF-8"):
        read_book("Café".encode("latin-1"), "text")


def test_markdown_chapters_are_the_top_most_headings_used():
    text = (
        "Some front matter.\n\n"
        "## The *First* Part ##\nIt was **dark** and _cold_.\n### A scene\nMore.\n"
        '## Second\nThe [wind](https://example.com/wind "wind") rose. ![a map](map.png)\n'
    )
    chapters = read_book(text.encode(), "markdown")
    assert [chapter.title for chapter in chapters] == ["Some front matter.", "The First Part", "Second"]
    assert chapters[1].text == "The First Part\nIt was dark and cold.\nA scene\nMore."
    assert chapters[2].text == "Second\nThe wind rose."


def test_markdown_markup_is_dropped_and_its_words_kept():
    text = (
        "# One\n"
        "> A quote with `code` and ~~old~~ words.\n"
        "- a bullet\n* another\n1. a number\n"
        "---\n"
        "<!-- a note\nfor the editor -->\n"
        "```python\nprint('never read')\n```\n"
        "A [reference link][ref] and <https://example.com>, an escaped \\*star\\*.\n"
        "[ref]: https://example.com\n"
        "| name | age |\n|------|-----|\n| Ann | 3 |\n"
    )
    (chapter,) = read_book(text.encode(), "markdown")
    assert chapter.text == (
        "One\nA quote with code and old words.\na bullet\nanother\n1. a number\n\n"
        "A reference link and https://example.com, an escaped *star*.\nname, age\nAnn, 3"
    )


def test_markdown_without_headings_is_one_chapter():
    assert read_book(b"Plain *words*.", "markdown") == [Chapter("Chapter 1", "Plain words.")]


def test_a_heading_inside_a_code_fence_is_no_chapter():
    chapters = read_book(b"# One\nText.\n~~~\n# not a heading\n~~~\n# Two\nMore.", "markdown")
    assert [chapter.title for chapter in chapters] == ["One", "Two"]


def test_epub_chapters_in_spine_order_titled_by_the_table_of_contents():
    data = make_epub([("The Storm", "It was dark.\nThe wind rose & fell."), ("Home", "They came home.")])
    assert read_book(data, "epub") == [
        Chapter("The Storm", "The Storm\nIt was dark.\nThe wind rose & fell."),
        Chapter("Home", "Home\nThey came home."),
    ]


def test_epub_titles_fall_back_to_the_first_heading_then_to_a_number():
    chapters = [("The Storm", "It was dark."), ("Home", "They came home.")]
    assert [chapter.title for chapter in read_book(make_epub(chapters, toc=False), "epub")] == ["The Storm", "Home"]
    untitled = read_book(make_epub(chapters, toc=False, headings=False), "epub")
    assert [chapter.title for chapter in untitled] == ["Chapter 1", "Chapter 2"]


def test_an_epub2_ncx_titles_documents_in_folders_and_links_to_their_parts():
    book = epub.EpubBook()
    book.set_identifier("ncx-test")
    book.set_title("NCX")
    document = epub.EpubHtml(title="unused", file_name="text/one.xhtml", uid="one")
    document.content = "<html><body><h1>A heading</h1><p>Words.</p></body></html>"
    book.add_item(document)
    book.toc = [epub.Link("text/one.xhtml#start", "From the NCX", "one")]
    book.add_item(epub.EpubNcx())
    book.spine = [document]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {"raise_exceptions": True})
    assert read_book(buffer.getvalue(), "epub") == [Chapter("From the NCX", "A heading\nWords.")]


def built_epub(documents: list[tuple[str, str]], spine: list[str]) -> bytes:
    """An EPUB of (file name, XHTML body) documents, read in the order `spine` names them."""
    book = epub.EpubBook()
    book.set_identifier("spine-test")
    book.set_title("Spine")
    items = {}
    for name, body in documents:
        items[name] = epub.EpubHtml(title=name, file_name=name, uid=name.split(".")[0])
        items[name].content = f"<html><head><title>Not read</title></head><body>{body}</body></html>"
        book.add_item(items[name])
    book.add_item(epub.EpubNcx())
    book.spine = [items[name] for name in spine]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {"raise_exceptions": True})
    return buffer.getvalue()


def test_epub_documents_are_read_in_spine_order_without_scripts_styles_or_page_numbers():
    data = built_epub(
        [
            ("a.xhtml", "<h2>Later</h2><p>Second.</p>"),
            (
                "b.xhtml",
                "<style>p { color: red }</style><script>alert(1)</script><h2>Sooner</h2>"
                "<div>One<p>line&nbsp;and <em>another</em></p><span epub:type='pagebreak'>17</span>End.</div>",
            ),
        ],
        spine=["b.xhtml", "a.xhtml"],
    )
    chapters = read_book(data, "epub")
    assert chapters == [Chapter("Sooner", "Sooner\nOne\nline and another\nEnd."), Chapter("Later", "Later\nSecond.")]


def test_an_epub_without_text_documents_or_a_zip_is_refused():
    with pytest.raises(BookError, match="not an EPUB"):
        read_book(b"plain text, not a zip", "epub")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("mimetype", "application/epub+zip")
    with pytest.raises(BookError, match="cannot be read"):
        read_book(archive.getvalue(), "epub")
    with pytest.raises(BookError, match="no documents in its spine"):
        read_book(built_epub([("a.xhtml", "<p>Hi.</p>")], spine=[]), "epub")
    with pytest.raises(BookError, match="the book has no text"):
        read_book(built_epub([("a.xhtml", "<p> ... </p>")], spine=["a.xhtml"]), "epub")


def test_an_epub_that_would_inflate_past_its_bound_is_not_read():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as writer:
        writer.writestr("mimetype", "application/epub+zip")
        writer.writestr("EPUB/bomb.xhtml", b"\0" * 2_000_000)
    data = archive.getvalue()
    with pytest.raises(BookError, match="inflates to 2000020 bytes"):
        read_book(data, "epub", max_chars=10_000)


def test_a_book_over_the_limit_names_both_numbers():
    with pytest.raises(BookError, match="the book has 1199 characters of text; the limit is 1000"):
        read_book(b"word " * 240, "text", max_chars=1000)
    with pytest.raises(BookError, match="the limit is 1000"):
        read_book(make_epub([("One", "word " * 240)]), "epub", max_chars=1000)
    assert MAX_BOOK_CHARS == 2_000_000


def test_no_text_and_unknown_formats_are_the_clients_errors():
    for data, book_format in ((b"", "text"), (b"  \n\n", "markdown"), (b"# \n---\n", "markdown")):
        with pytest.raises(BookError, match="the book has no text"):
            read_book(data, book_format)
    with pytest.raises(InvalidInput, match="use text, markdown or epub"):
        read_book(b"x", "pdf")  # type: ignore[arg-type]


def cpu_seconds(work: Callable[[], object]) -> float:
    """The best of three runs' CPU time; a book refused for having no text counts as read."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        with contextlib.suppress(BookError):
            work()
        best = min(best, time.process_time() - start)
    return best


CRAFTED_PIECES = ["[", "[a](", "**a", "_a ", "`", "![", "<!--", "#", "> ", "\\", "\n# a\n", "Chapter 1:\n", "Chapter "]


@pytest.mark.parametrize("piece", CRAFTED_PIECES)
def test_reading_a_book_costs_time_linear_in_its_length(piece):
    """A text made of one piece repeated costs at most 8x as much at 4x the length (linear work
    costs 4x, a pattern that backtracks 16x or more). CPU time, the best of three runs, measured
    again once before it counts."""

    def crafted(length: int) -> bytes:
        return (piece * (length // len(piece))).encode()

    for book_format in ("text", "markdown"):
        ratios = []
        for _ in range(2):
            long, short = crafted(100_000), crafted(25_000)
            ratios.append(
                cpu_seconds(functools.partial(read_book, long, book_format))
                / cpu_seconds(functools.partial(read_book, short, book_format))
            )
            if ratios[-1] < 8:
                break
        assert min(ratios) < 8, (book_format, ratios)
