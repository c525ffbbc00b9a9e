"""A book's chapters from what a user uploads: plain text, Markdown or an EPUB.

Each reader finds the chapters and their titles; this module checks what they found (no empty
chapter, some text, at most `max_chars` of it) and names a chapter that has no title. A chapter's
text is everything it says, its heading included, as an EPUB's documents hold theirs: a listener
hears "Chapter Four. The Storm." where a reader sees it.
"""

from dataclasses import dataclass
from typing import Literal

from .book_epub import epub_sections
from .book_markdown import markdown_sections
from .book_text import text_sections
from .errors import BookError

__all__ = ["MAX_BOOK_CHARS", "BookError", "BookFormat", "Chapter", "read_book"]

MAX_BOOK_CHARS = 2_000_000
BookFormat = Literal["text", "markdown", "epub"]
#: a plain text or Markdown file this many times longer than the limit is refused before it is
#: read: its chapters could not be short enough
_MAX_MARKUP_RATIO = 4
#: a title longer than this is cut (it is a tag in an MP3 and a line in a manifest)
MAX_TITLE_CHARS = 120


@dataclass(frozen=True)
class Chapter:
    title: str
    text: str


def read_book(data: bytes, book_format: BookFormat, max_chars: int = MAX_BOOK_CHARS) -> list[Chapter]:
    """The book's chapters in reading order. Raises BookError for a file that is not what
    `book_format` says, a book with no text, or one with more than `max_chars` characters of it."""
    if book_format == "epub":
        sections = epub_sections(data, max_chars)
    elif book_format in ("text", "markdown"):
        if len(data) > _MAX_MARKUP_RATIO * max_chars:
            raise BookError(f"the book is {len(data)} bytes; a book may hold {max_chars} characters of text")
        text = _decoded(data)
        sections = markdown_sections(text) if book_format == "markdown" else text_sections(text)
    else:
        raise BookError(f"format '{book_format}' is not a book format; use text, markdown or epub")
    chapters = []
    for title, text in sections:
        if any(character.isalnum() for character in text):
            name = " ".join(title.split())[:MAX_TITLE_CHARS] or f"Chapter {len(chapters) + 1}"
            chapters.append(Chapter(name, text))
    if not chapters:
        raise BookError("the book has no text")
    length = sum(len(chapter.text) for chapter in chapters)
    if length > max_chars:
        raise BookError(f"the book has {length} characters of text; the limit is {max_chars}")
    return chapters


def _decoded(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BookError(
            f"the book is not UTF-8 text (byte {error.start} cannot be read); save it as UTF-8, or send an EPUB"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
