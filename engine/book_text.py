"""Plain text's chapters: a line such as "Chapter 1", "CHAPTER TWO" or "Chapter IV: The Storm"
begins one. Lines are looked at one by one, and only a short one is matched against a heading."""

import re

#: a line no longer than this may be a chapter heading in plain text
_MAX_HEADING_CHARS = 100
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred"
)
#: a plain-text chapter heading: "Chapter 1", "CHAPTER TWO", "Chapter IV: The Storm", "Chapter
#: twenty-one. Home", "Prologue". Only ever matched against one line of at most _MAX_HEADING_CHARS.
_HEADING = re.compile(
    rf"(?:chapter|chap\.)\s+(?:\d+|[ivxlcdm]+|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))?)"
    r"(?:\s*[:.—–-]\s*\S.*|\s*[:.]?)|(?:prologue|epilogue)(?:\s*[:.—–-]\s*\S.*)?",
    re.IGNORECASE,
)


def text_sections(text: str) -> list[tuple[str, str]]:
    """Plain text's chapters, at heading lines ("Chapter 1"); else the whole text is one. Text
    before the first heading is a chapter of its own, titled by its first line."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) <= _MAX_HEADING_CHARS and _HEADING.fullmatch(stripped):
            sections.append((stripped, []))
        sections[-1][1].append(line.rstrip())
    opening_lines = sections[0][1]
    sections[0] = (next((line.strip() for line in opening_lines if line.strip()), ""), opening_lines)
    if len(sections) == 1:
        sections[0] = ("", opening_lines)
    return [(title, paragraphs(lines)) for title, lines in sections]


def paragraphs(lines: list[str]) -> str:
    """Lines joined, with blank lines between paragraphs kept to one and none at either end."""
    kept: list[str] = []
    for line in lines:
        if line.strip() or (kept and kept[-1]):
            kept.append(line.strip())
    return "\n".join(kept).strip()
