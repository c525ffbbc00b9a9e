"""An EPUB's chapters: its documents in spine order, each titled by the table of contents (the
EPUB 3 nav document, else the EPUB 2 NCX), else by its first heading. XHTML becomes text with
lxml: a paragraph is a line; scripts, styles and page-number markers are dropped.

ebooklib reads every file the package lists into memory, so the archive's declared sizes are
checked first: Python's zipfile never inflates an entry past its declared size, which makes the
check a bound on what is read, whatever a crafted archive claims.
"""

import io
import posixpath
import zipfile

import ebooklib
import lxml.etree
import lxml.html
from ebooklib import epub

from .errors import BookError

#: an EPUB may inflate to this many bytes per character of the limit, over its own size: XHTML's
#: markup around the text, in UTF-8 (pictures, already compressed, are counted in its own size)
_INFLATED_BYTES_PER_CHAR = 8
#: elements whose text is never read: scripts, styles, the head (its <title> repeats the book's)
_UNREAD = ("script", "style", "head", "template", "noscript")
#: elements that stand apart from the text around them: a line each
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "section", "article", "aside",
     "figcaption", "pre", "dt", "dd", "hr", "table", "ul", "ol", "header", "footer", "nav"}
)  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def epub_sections(data: bytes, max_chars: int) -> list[tuple[str, str]]:
    """(title, text) for each document in the spine, in order; "" where no title is found. The
    nav document is left out when the spine lists it: it is the table of contents, not the book."""
    _check_inflated_size(data, len(data) + _INFLATED_BYTES_PER_CHAR * max_chars)
    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except (epub.EpubException, KeyError, ValueError, AttributeError, TypeError, IndexError, lxml.etree.Error) as error:
        raise BookError(f"the EPUB cannot be read ({error}); check that it opens in an e-book reader") from None
    documents = [book.get_item_with_id(idref) for idref, linear in book.spine if linear != "no"]
    documents = [
        item
        for item in documents
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT and not isinstance(item, epub.EpubNav)
    ]
    if not documents:
        raise BookError("the EPUB has no documents in its spine, so it has no reading order")
    titles = _toc_titles(book.toc)
    sections = []
    for document in documents:
        root = _parsed(document.get_content())
        if root is None:
            continue
        title = titles.get(posixpath.normpath(document.get_name()), "") or _first_heading(root)
        sections.append((title, _text(root)))
    return sections


def _check_inflated_size(data: bytes, limit: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(entry.file_size for entry in archive.infolist())
    except zipfile.BadZipFile:
        raise BookError("the file is not an EPUB: an EPUB is a zip archive") from None
    if inflated > limit:
        raise BookError(f"the EPUB inflates to {inflated} bytes; at most {limit} are read for a book of this size")


def _toc_titles(toc: object) -> dict[str, str]:
    """Each document's title: the first entry of the table of contents that points into it."""
    titles: dict[str, str] = {}
    # ebooklib's table of contents is a list of entries, or one entry when it has no list
    pending = list(toc) if isinstance(toc, list | tuple) else [toc]
    pending.reverse()
    while pending:
        entry = pending.pop()
        if isinstance(entry, tuple):  # (Section, [children])
            section, children = entry
            pending.extend(reversed(list(children)))
            entry = section
        href = getattr(entry, "href", "") or ""
        title = " ".join((getattr(entry, "title", "") or "").split())
        if href and title:
            titles.setdefault(posixpath.normpath(href.split("#", 1)[0]), title)
    return titles


def _parsed(content: bytes | None) -> lxml.html.HtmlElement | None:
    """A document's body, or None for an empty or unreadable document."""
    if not content or not content.strip():
        return None
    try:
        root = lxml.html.document_fromstring(content, parser=lxml.html.HTMLParser(no_network=True))
    except (lxml.etree.ParserError, ValueError):
        return None
    for element in list(root.iter(*_UNREAD)):
        element.drop_tree()
    for element in list(root.iter()):
        if isinstance(element.tag, str) and "pagebreak" in element.get("epub:type", "") + element.get("role", ""):
            element.drop_tree()
    return root


def _first_heading(root: lxml.html.HtmlElement) -> str:
    for heading in root.iter(*_HEADINGS):
        title = " ".join(heading.text_content().split())
        if title:
            return title
    return ""


def _text(root: lxml.html.HtmlElement) -> str:
    """The document's text, a line per block (paragraph, heading, list item)."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCKS:
            element.text = "\n" + (element.text or "")
            element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)
