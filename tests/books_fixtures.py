"""Books made in the tests: EPUBs built with ebooklib, so no book file is checked in."""

import io

from ebooklib import epub


def make_epub(
    chapters: list[tuple[str, str]], title: str = "A Test Book", toc: bool = True, headings: bool = True
) -> bytes:
    """An EPUB 3 (with an EPUB 2 NCX too) holding one XHTML document per (title, text) chapter, in
    that order; each document opens with its title as an <h1> (unless not `headings`), each line
    of its text is a <p>; the table of contents lists every chapter (unless not `toc`)."""
    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title(title)
    book.set_language("en")
    documents = []
    for n, (chapter_title, text) in enumerate(chapters, start=1):
        document = epub.EpubHtml(title=chapter_title, file_name=f"chapter_{n}.xhtml", lang="en")
        paragraphs = "".join(f"<p>{_escaped(line)}</p>" for line in text.split("\n") if line.strip())
        heading = f"<h1>{_escaped(chapter_title)}</h1>" if headings else ""
        document.content = f"<html><body>{heading}{paragraphs}</body></html>"
        book.add_item(document)
        documents.append(document)
    if toc:
        book.toc = [
            epub.Link(document.file_name, document.title, f"chapter_{n}") for n, document in enumerate(documents)
        ]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *documents]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {"raise_exceptions": True})
    return buffer.getvalue()


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
