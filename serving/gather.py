"""Gather: text that arrives in pieces (an agent's sentences, or an LLM's tokens) -> the
sentences to speak, as soon as each is complete.

A sentence is complete once text after it has begun (the language's own sentence splitter says
where sentences end, so "Dr. Smith" is one), or once the text has paused at a sentence or clause
mark for a moment; failing both, whatever has waited longest is spoken after the context's buffer
delay. Pieces are joined as they are written, except that a sentence mark followed at once by a
capital letter gets a space: clients that send one sentence per message write none between them
("pier." and "A" must not be read as "pier.A").
"""

from collections.abc import Callable

SENTENCE_MARKS = frozenset(".!?…。！？")
#: marks after which the text may pause: a sentence's or a clause's end
PAUSE_MARKS = SENTENCE_MARKS | frozenset(",;:—–、，；：")
#: closing quotes and brackets that may follow a mark ("He said 'stop.'")
_CLOSERS = "\"'”’»)]」』）"


class TextGatherer:
    """One context's text not spoken yet. Not thread-safe: one context's task uses it."""

    def __init__(self, split_sentences: Callable[[str], list[str]]):
        self._split = split_sentences
        self._text = ""

    @property
    def pending(self) -> str:
        return self._text

    def add(self, piece: str) -> None:
        if self._text.rstrip(_CLOSERS)[-1:] in SENTENCE_MARKS and piece[:1].isupper():
            piece = " " + piece
        self._text += piece

    def at_pause(self) -> bool:
        """Whether the text ends at a sentence or clause mark: it may be all that comes for now."""
        return self._text.rstrip().rstrip(_CLOSERS)[-1:] in PAUSE_MARKS

    def complete(self) -> str:
        """The complete sentences at the front of the text, taken out of it ("" if none is).

        Runs the language's sentence splitter (spaCy for English): call it off the event loop."""
        sentences = self._split(self._text)
        if not sentences:
            return ""
        last = sentences[-1]
        ended = self._text[-1:].isspace() and last.rstrip().rstrip(_CLOSERS)[-1:] in SENTENCE_MARKS
        if len(sentences) == 1 and not ended:
            return ""
        cut = len(self._text) if ended else self._text.rfind(last)
        if cut <= 0:
            return ""
        spoken, self._text = self._text[:cut], self._text[cut:]
        return spoken.strip()

    def rest(self) -> str:
        """All the text not spoken yet, taken out."""
        spoken, self._text = self._text.strip(), ""
        return spoken
