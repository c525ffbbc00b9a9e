"""Gather: text that arrives in pieces (an agent's sentences, or an LLM's tokens) -> the
sentences to speak, as soon as each is complete.

A sentence is complete once text after it has begun (the language's own sentence splitter says
where sentences end, so "Dr. Smith" is one), or once the text has paused at a sentence or clause
mark for a moment; failing both, whatever has waited longest is handed out after the context's buffer
delay. Pieces are joined as they are written, except that a sentence mark followed at once by a
capital letter gets a space: clients that send one sentence per message write none between them
("pier." and "A" must not be read as "pier.A").

The work a piece costs is bounded whatever the text before it: the splitter reads only the tail
where a new sentence end can be (the text before it held none, or it would have been handed out), and
only once a sentence mark or a line break has come; and text that runs on without a sentence end
is handed out in parts once it passes a limit, each cut at its last sentence, clause or word boundary.
"""

from collections.abc import Callable, Iterator

from engine.marks import CJK_SENTENCE_ENDS, CLOSERS, PAUSE_MARKS, SENTENCE_ENDS

#: a sentence's end, in any language
SENTENCE_MARKS = frozenset(SENTENCE_ENDS + CJK_SENTENCE_ENDS)
#: where a sentence may end: the splitter is not asked about text without one
_ENDS = SENTENCE_MARKS | {"\n"}
#: how far back from the text already read the splitter looks again: the words around a new
#: sentence end that it weighs (spaCy's recogniser reads a few tokens each side)
TAIL_CONTEXT_CHARS = 200


class TextGatherer:
    """One context's text not handed out yet. Not thread-safe: one context's task uses it."""

    def __init__(self, split_sentences: Callable[[str], list[str]], max_chars: int):
        """`max_chars`: the most text held without a sentence end before it is handed out in parts."""
        self._split = split_sentences
        self._max_chars = max_chars
        self._text = ""
        self._read = 0  # how much of the text the splitter has read and found no sentence end in

    @property
    def pending(self) -> str:
        return self._text

    def add(self, piece: str) -> None:
        self._text = joined(self._text, piece)

    def at_pause(self) -> bool:
        """Whether the text ends at a sentence or clause mark: it may be all that comes for now."""
        return self._text.rstrip().rstrip(CLOSERS)[-1:] in PAUSE_MARKS

    def may_complete(self) -> bool:
        """Whether `complete` could find a sentence: the tail it reads holds a sentence mark or
        a line break. Text without one is taken as read: no sentence ends in it."""
        if _ENDS.isdisjoint(self._tail()):
            self._read = len(self._text)
            return False
        return True

    def complete(self) -> str:
        """The complete sentences at the front of the text, taken out of it ("" if none is).

        Runs the language's sentence splitter (spaCy for English) over the tail of the text:
        call it off the event loop."""
        tail = self._tail()
        start = len(self._text) - len(tail)
        self._read = len(self._text)
        sentences = self._split(tail)
        if not sentences:
            return ""
        last = sentences[-1]
        ended = tail[-1:].isspace() and last.rstrip().rstrip(CLOSERS)[-1:] in SENTENCE_MARKS
        if len(sentences) == 1 and not ended:
            return ""
        cut = len(self._text) if ended else start + tail.rfind(last)
        return self._take(cut)

    def overflow(self) -> str:
        """Text past the limit, taken out to be handed out now ("" while the text is within it): up
        to its last sentence, clause or word boundary inside the limit, the rest kept."""
        if len(self._text) <= self._max_chars:
            return ""
        return self._take(boundary(self._text, self._max_chars))

    def rest(self) -> str:
        """All the text not handed out yet, taken out."""
        return self._take(len(self._text))

    def _tail(self) -> str:
        """The text after what the splitter read, with the words before it that it weighs."""
        return self._text[max(0, self._read - TAIL_CONTEXT_CHARS) :]

    def _take(self, cut: int) -> str:
        if cut <= 0:
            return ""
        taken, self._text = self._text[:cut], self._text[cut:]
        self._read = max(0, self._read - cut)
        return taken.strip()


def joined(text: str, piece: str) -> str:
    """`piece` written after `text`, with a space between a sentence mark and a capital letter."""
    if text.rstrip(CLOSERS)[-1:] in SENTENCE_MARKS and piece[:1].isupper():
        return text + " " + piece
    return text + piece


def boundary(text: str, max_chars: int) -> int:
    """Where to cut `text` so that its first part holds at most `max_chars`: after the last
    sentence mark followed by a space, else the last clause mark, else the last space; else (one
    long word) at the limit."""
    window = text[: max_chars + 1]
    for marks in (SENTENCE_MARKS, PAUSE_MARKS):
        at = max(window.rfind(mark + " ") for mark in marks)
        if at > 0:
            return at + 1
    at = window.rfind(" ")
    return at if at > 0 else max_chars


def parts(text: str, max_chars: int) -> Iterator[str]:
    """`text` in parts of at most `max_chars`, each cut at its last boundary (`boundary`)."""
    while len(text) > max_chars:
        cut = boundary(text, max_chars)
        part, text = text[:cut].strip(), text[cut:]
        if part:
            yield part
    if text.strip():
        yield text.strip()
