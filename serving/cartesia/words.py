"""Word timestamps in the words the client wrote, not the tokens the model spoke."""

from collections.abc import Iterable

from engine.speech import WordTiming
from engine.text import speakable

from .messages import WordTimestamps

#: languages whose text writes no spaces between words: each token is a word of its own
UNSPACED_LANGUAGES = frozenset("jz")


def cartesia_words(words: Iterable[WordTiming], spaced: bool) -> WordTimestamps:
    """The words as the client wrote them: where the text is `spaced`, the tokens between two
    spaces are one word ('"Hello,' rather than '"', "Hello" and ","), elsewhere (Japanese,
    Chinese) each token is one, a mark joined to the token before it."""
    found: list[list] = []  # [word, start, end]
    joins = False  # the token before had no space after it
    for word in words:
        continues = joins if spaced else not speakable(word.word)  # a mark, or a piece of a long word
        if found and continues:
            found[-1][0] += word.word
            found[-1][2] = max(found[-1][2], word.end_s)
        elif word.word:
            found.append([word.word, word.start_s, word.end_s])
        joins = bool(found) and not word.whitespace
    return WordTimestamps(
        words=[w for w, _, _ in found], start=[round(s, 3) for _, s, _ in found], end=[round(e, 3) for _, _, e in found]
    )
