"""Markdown's chapters: an ATX heading ("# Title") at the top-most level the book uses begins one;
deeper headings stay in its text as lines. Markdown's markup is dropped and its words kept: a
link reads as its text, an image not at all (its alt text describes a picture, not the book), a
list without its bullets. Fenced code blocks are dropped: read aloud, code is a run of symbols a
listener cannot follow, and audiobook tools skip it; inline code stays, since it is a word of
its sentence. HTML inside Markdown is left to the reading rules (engine/markup.py), which drop
its tags whenever a text is read; its comments are dropped here, since they were never text.

Every pattern is matched within one line, and none can scan past the next of its own delimiters,
so the work grows linearly with the book.
"""

import re

from .book_text import paragraphs

#: "![alt](src)": dropped
_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\s]*(?:\s+\"[^\"\n]*\")?\)")
#: "[text](href "title")" and "[text][reference]": their text
_LINK = re.compile(r"\[([^\[\]\n]*)\](?:\([^()\s]*(?:\s+\"[^\"\n]*\")?\)|\[[^\[\]\n]*\])")
#: "<https://example.com>": the address
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"\*\*([^*\n]+)\*\*|(?<!\w)__([^_\n]+)__(?!\w)")
_EMPHASIS = re.compile(r"\*([^*\n]+)\*|(?<!\w)_([^_\n]+)_(?!\w)")
_STRIKETHROUGH = re.compile(r"~~([^~\n]+)~~")
#: a backslash escape ("\*"): the character itself, which no other pattern may read as markup
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ASCII_PUNCTUATION = "".join(chr(code) for code in range(33, 127) if not chr(code).isalnum())
#: an escaped character stands for itself as one of Unicode's 32 noncharacters (U+FDD0...) while
#: the markup is read, so that "\*" is never half of an emphasis; ASCII has 32 punctuation marks
_STAND_INS = dict(zip(_ASCII_PUNCTUATION, (chr(0xFDD0 + n) for n in range(32)), strict=True))
_RESTORED = str.maketrans({stand_in: mark for mark, stand_in in _STAND_INS.items()})
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")
#: "[reference]: https://...": a link's target, no text
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\[\]\n]+\]:\s*\S")
_BLOCKQUOTE = re.compile(r"\A\s*(?:>\s?)+")
_BULLET = re.compile(r"\A\s*[-*+]\s+")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?")


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """(title, text) for each chapter, in order; text before the first chapter heading is one of
    its own, titled by its first line."""
    lines = _lines_outside_fences(_without_comments(text))
    headings = [heading for heading in map(_heading, lines) if heading is not None]
    top_level = min((level for level, _ in headings), default=0)
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        if _REFERENCE_DEFINITION.match(line) or _is_table_rule(line):
            continue  # no text, and no break between paragraphs
        heading = _heading(line)
        if heading is not None:
            level, title = heading
            if level == top_level:
                sections.append((title, []))
            sections[-1][1].append(title)
        else:
            sections[-1][1].append(_plain_line(line))
    opening = sections[0][1]
    if len(sections) > 1:
        sections[0] = (next((line for line in opening if line.strip()), ""), opening)
    return [(title, paragraphs(lines)) for title, lines in sections]


def _without_comments(text: str) -> str:
    """`text` without its HTML comments ("<!-- ... -->"); an unclosed one runs to the end."""
    kept = []
    position = 0
    while (start := text.find("<!--", position)) != -1:
        kept.append(text[position:start])
        end = text.find("-->", start + 4)
        position = len(text) if end == -1 else end + 3
    kept.append(text[position:])
    return "".join(kept)


def _lines_outside_fences(text: str) -> list[str]:
    """The lines of `text` outside fenced code blocks; an unclosed fence runs to the end."""
    kept = []
    fence = ""
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence:
            if opening and opening[1][0] == fence[0] and len(opening[1]) >= len(fence) and not line.strip(" `~"):
                fence = ""
        elif opening:
            fence = opening[1]
        else:
            kept.append(line)
    return kept


def _heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and its text, without its closing #s and markup."""
    found = _ATX_HEADING.fullmatch(line)
    if found is None:
        return None
    content = (found[2] or "").rstrip()
    unclosed = content.rstrip("#")
    if unclosed != content and (not unclosed or unclosed[-1] in " \t"):
        content = unclosed
    return len(found[1]), _plain_line(content).strip()


def _plain_line(line: str) -> str:
    """One line's words without Markdown's markup."""
    if _is_rule(line):
        return ""
    line = _ESCAPE.sub(lambda found: _STAND_INS[found[1]], _NONCHARACTERS.sub("", line))
    line = _BULLET.sub("", _BLOCKQUOTE.sub("", line, count=1), count=1)
    if line.lstrip().startswith("|"):
        line = ", ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _CODE_SPAN.sub(r"\1", line)
    for pattern in (_STRONG, _EMPHASIS):
        line = pattern.sub(lambda found: found[1] if found[1] is not None else found[2], line)
    line = _STRIKETHROUGH.sub(r"\1", line)
    return line.translate(_RESTORED).strip()


def _is_rule(line: str) -> bool:
    """A thematic break ("---", "* * *") or a setext heading's underline ("==="): a paragraph break."""
    marks = set(line.replace(" ", "").replace("\t", ""))
    return len(line.strip()) >= 3 and len(marks) == 1 and marks <= set("-*_=")


def _is_table_rule(line: str) -> bool:
    """The rule under a table's header ("|---|:--:|")."""
    marks = set(line.replace(" ", "").replace("\t", ""))
    return "|" in marks and "-" in marks and marks <= set("|-:")
