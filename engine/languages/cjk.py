"""What Japanese and Mandarin share: the user's text cut into words from the G2P's tokens, the
word breaks misaki writes between them, and Latin words spoken as English."""

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import Word

#: marks that the G2P writes right after a word (misaki's PUNCT_STOPS, and …), and marks that it
#: writes right before one (PUNCT_STARTS): no word break on those sides
_CLOSING_MARKS = frozenset("!),.:;?”…")
_OPENING_MARKS = frozenset("(“«")
#: a word in Latin letters inside Japanese or Chinese text (full-width letters included)
_LATIN_WORD = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+(?:['’\-][A-Za-zＡ-Ｚａ-ｚ]+)*")
#: a number as written: digits (full-width too), thousands separators, a decimal part
_NUMBER = r"[0-9０-９]+(?:[,，][0-9０-９]{3})*(?:[.．][0-9０-９]+)?"
_GLOTTAL_QUOTES = frozenset('"«“')
_GLOTTAL_PUNCTUATION = frozenset('!",.:;?»—…”')


@dataclass(frozen=True)
class G2PToken:
    """A G2P token placed in the user's text: the characters [start, end), spoken as `phonemes`."""

    start: int
    end: int
    phonemes: str


def english_words() -> Callable[[str], str]:
    """A Latin word inside Japanese or Chinese text, spoken as American English: espeak-ng through
    misaki's English fallback, which writes its phonemes as misaki's English G2P does."""
    from types import SimpleNamespace

    from misaki import espeak

    g2p = espeak.EspeakFallback(british=False)

    def phonemize(word: str) -> str:
        phonemes, _ = g2p(SimpleNamespace(text=unicodedata.normalize("NFKC", word)))
        return (phonemes or "").strip()

    return phonemize


def cjk_words(text: str, tokens: Iterable[G2PToken]) -> list[Word]:
    """The words of `text` from its G2P tokens, in order. Tokens that share characters of the text
    (a number that is read as several words) become one word; characters that no token covers
    become a silent word, so that every character of the text is in some word."""
    spans: list[tuple[int, int, str]] = []
    for token in tokens:
        if spans and token.start < spans[-1][1]:
            start, end, phonemes = spans[-1]
            spans[-1] = (start, max(end, token.end), " ".join(p for p in (phonemes, token.phonemes) if p))
            continue
        spans.extend(_silent_spans(text, spans[-1][1] if spans else 0, token.start))
        spans.append((token.start, token.end, token.phonemes))
    spans.extend(_silent_spans(text, spans[-1][1] if spans else 0, len(text)))
    words = []
    for n, (start, end, phonemes) in enumerate(spans):
        following = next((p for _, _, p in spans[n + 1 :] if p), "")
        words.append(Word(text[start:end], phonemes, text[end : end + 1].isspace(), _word_break(phonemes, following)))
    return words


def _silent_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(start + m.start(), start + m.end(), "") for m in re.finditer(r"\S+", text[start:end])]


def _word_break(phonemes: str, following: str) -> bool:
    """Whether the G2P puts a space between two words: not before closing punctuation, not after
    opening punctuation, and not on either side of a Japanese glottal stop (っ), unless
    punctuation stands there (misaki's cutlet.py, Cutlet.__call__ and _romaji_tokens)."""
    first, last = following[:1], phonemes[-1:]
    if first in _CLOSING_MARKS or last in _OPENING_MARKS:
        return False
    if last == "ʔ" and first not in _GLOTTAL_QUOTES:
        return False
    return not (first == "ʔ" and last not in _GLOTTAL_PUNCTUATION)
