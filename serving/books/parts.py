"""A chapter too long to be one job step cut into parts: "Title (part 2)" and so on.

A chapter is the unit a job makes, keeps, and makes again after a restart, and its MP3 is held
encoded in memory until it is done: a book with no headings is one chapter, 2,000,000 characters
of it some 40 hours of speech. Parts of at most MAX_PART_CHARS (about an hour) bound both. Each
cut is at the last paragraph break before the limit, else the last sentence end, else the last
space; the text is looked at once.
"""

from engine.books import Chapter

#: the longest part, in characters: about an hour of speech at kokoro's pace
MAX_PART_CHARS = 50_000
#: where a cut is made, best first: a paragraph break, a sentence end, a space
_CUTS = ("\n\n", ". ", " ")


def in_parts(chapters: list[Chapter], max_chars: int = MAX_PART_CHARS) -> list[Chapter]:
    parted = []
    for chapter in chapters:
        if len(chapter.text) <= max_chars:
            parted.append(chapter)
            continue
        pieces = _cut(chapter.text, max_chars)
        parted.extend(Chapter(f"{chapter.title} (part {n})", piece) for n, piece in enumerate(pieces, start=1))
    return parted


def _cut(text: str, max_chars: int) -> list[str]:
    pieces = []
    start = 0
    while len(text) - start > max_chars:
        end = start + max_chars
        cut = end
        for mark in _CUTS:
            found = text.rfind(mark, start + max_chars // 2, end)
            if found != -1:
                cut = found + len(mark)
                break
        pieces.append(text[start:cut].strip())
        start = cut
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]
