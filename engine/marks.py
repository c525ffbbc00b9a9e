"""The punctuation marks the text is read by: where a sentence or a clause ends, what closes or
opens one, which marks the model speaks. The planner, the languages, the reading rules and the
gatherer all read them from here, so that they agree on where text may be cut."""

import re

#: a sentence's end in text written with spaces (Latin, Greek, Devanagari): followed by a space
SENTENCE_ENDS = ".!?…"
#: a sentence's end in Japanese and Chinese: a space after it or not
CJK_SENTENCE_ENDS = "。！？"
#: a clause's end: a pause inside a sentence
CLAUSE_ENDS = ",;:—–"
CJK_CLAUSE_ENDS = "、，；："
#: every mark a sentence or a clause may end at, in any language
PAUSE_MARKS = frozenset(SENTENCE_ENDS + CJK_SENTENCE_ENDS + CLAUSE_ENDS + CJK_CLAUSE_ENDS)
#: closing quotes and brackets that may follow a sentence's mark ("He said 'stop.'")
CLOSERS = "\"'”’»)]}」』）〕】"
#: opening quotes and brackets, which spaCy always splits from the word after them
OPENERS = "([{\"'“‘«"
#: the marks the model speaks (as pauses): the others are dropped from a word's phonemes
SPOKEN_MARKS = frozenset(",.;:!?—…")
#: marks that may stand around a word ("Kokoro," "«Kokoro»"): kept, not looked up in a lexicon
AROUND_WORDS = "\"'“”‘’«»()[]{}.,;:!?…—–-¡¿"


def char_class(marks: str) -> str:
    """`marks` as a regex character class."""
    return f"[{re.escape(marks)}]"
