"""Text -> chunks the model can speak: normalise, phonemize, split at sentence and clause ends.

The model sees at most MAX_PHONEMES phonemes at once. A chunk gathers whole sentences up to
CHUNK_PHONEMES, and a sentence is spoken in one pass wherever it fits the model: each pass is
spoken as a whole utterance (its own falling end, its own silence after it), so a sentence cut in
two is heard as two sentences. Only a sentence longer than the model's limit is cut, at its last
clause mark that fits, else its last word. Where the sentences end is the language's call
(`Phonemizer.sentences`), not a full stop's, so "Dr. Smith" is never cut.

A stream's first audio is not won by cutting its first sentence (the cut would be heard as a full
stop): the model decodes that sentence in windows of frames instead (engine.synthesis.ChunkJob).
"""

import dataclasses
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .errors import NothingToSpeak
from .languages import Phonemizer, Word
from .marks import CLAUSE_ENDS
from .markup import PAUSE, without_markup

#: The model's context is 512 tokens: the phonemes plus a start and an end token.
MAX_PHONEMES = 510
#: Budget of every later chunk, about 4 s of speech: long enough for natural prosody, short enough
#: that a request arriving behind a long stream's chunk waits about 1.5 s on a 2-core CPU, not 3.
CHUNK_PHONEMES = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: the longest run of marks a text keeps whole: a longer one ("!!!!...", "-----...") is cut by a
#: space after every this many, since spaCy's tokenizer splits a run a mark at a time and searches
#: the rest of the run for each (a run of 8,000 costs seconds), and no reader says such a run
MAX_MARK_RUN = 32
_MARK_RUN = re.compile(rf"(?<![^\w\s])[^\w\s]{{{MAX_MARK_RUN + 1},}}")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n")
#: the most characters one G2P call reads: a longer sentence, which the chunker cuts anyway (the
#: model's MAX_PHONEMES are 400 to 500 characters of English), is phonemized in pieces this long,
#: each cut at its last space that fits, so that its first chunk waits for one piece's G2P, not
#: the whole sentence's (10,000 characters of "a[", one sentence and one word: 2 s before the
#: first audio). A word longer than this is cut too: its pieces are words, joined by no space.
MAX_G2P_CHARS = 1_000


@dataclass(frozen=True)
class Chunk:
    """Words spoken in one forward pass; `token_ids` excludes the start and end tokens."""

    words: tuple[Word, ...]
    token_ids: tuple[int, ...]
    #: each word's phonemes as [start, end) into token_ids; the space after a word is outside it
    word_spans: tuple[tuple[int, int], ...]
    #: a pause (SSML's <break/>): silence this long, and no words
    pause_s: float = 0.0

    @property
    def text(self) -> str:
        return "".join(w.text + (" " if w.whitespace else "") for w in self.words).strip()

    @property
    def phonemes(self) -> str:
        return "".join(w.phonemes + (" " if w.space_after else "") for w in self.words).strip()


def speakable(text: str) -> bool:
    """Whether a text has anything to say: a letter or digit once its markup is read (a
    <break/> is a pause, so it counts; a lone mark or tag does not)."""
    return any(character.isalnum() for character in without_markup(text))


def normalise(text: str) -> str:
    """Markup removed, Unicode NFC, line endings unified, control characters and runs of spaces
    removed, long runs of marks cut (MAX_MARK_RUN)."""
    text = unicodedata.normalize("NFC", without_markup(text)).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _MARK_RUN.sub(lambda run: " ".join(re.findall(f".{{1,{MAX_MARK_RUN}}}", run.group(), re.S)), text)
    return re.sub(r"[ \t\f\v]+", " ", text).strip()


def split_into_chunks(text: str, phonemizer: Phonemizer, vocab: Mapping[str, int]) -> Iterator[Chunk]:
    """Chunks in speaking order, produced lazily so the first can be spoken before the rest exist.

    The first chunk is the first sentence, so the first audio waits only for the G2P of one
    sentence (of its first MAX_G2P_CHARS, where it is longer)."""
    produced = False
    paragraphs = _PARAGRAPH_BREAK.split(normalise(text))
    for paragraph_index, paragraph in enumerate(paragraphs):
        # a pause ends what is before it: text, milliseconds, text, ...
        pieces = PAUSE.split(paragraph)
        texts = pieces[::2]
        for n, (piece, pause_ms) in enumerate(zip(texts, [*pieces[1::2], "0"], strict=True)):
            # the piece's last word is followed by a space in the text where a line break, or a
            # space beside a pause, comes before more text (G2P saw the piece alone, stripped)
            if n < len(texts) - 1:
                spaced_after = piece[-1:].isspace() or texts[n + 1][:1].isspace()
            else:
                spaced_after = paragraph_index < len(paragraphs) - 1
            pending: list[Word] = []
            ends: list[bool] = []  # whether each pending word ends a sentence
            size = 0  # the pending words' tokens, kept as they come: silent words may pile up
            for words, sentence_ends in _sentences(piece.strip(), phonemizer, spaced_after):
                fitted = list(_fit_words(words, vocab))
                for n, word in enumerate(fitted):
                    size += _added_tokens(pending[-1] if pending else None, word, vocab)
                    pending.append(word)
                    ends.append(sentence_ends and n == len(fitted) - 1)
                    # a cut is looked for once a sentence ends (or outgrows the model): a sentence
                    # under way that fits the model is spoken whole, whatever silent words it holds
                    while size > CHUNK_PHONEMES and (ends[-1] or size > MAX_PHONEMES):
                        cut = _best_cut(pending, ends, vocab)
                        if cut is None:
                            break
                        yield _make_chunk(pending[:cut], vocab)
                        produced, pending, ends = True, pending[cut:], ends[cut:]
                        size = len(_make_chunk(pending, vocab).token_ids)
                if not produced and size:
                    yield _make_chunk(pending, vocab)
                    produced, pending, ends, size = True, [], [], 0
            if pending and size:
                yield _make_chunk(pending, vocab)
            if int(pause_ms) and produced:
                yield Chunk((), (), (), pause_s=int(pause_ms) / 1000)


def _sentences(paragraph: str, phonemizer: Phonemizer, spaced_after: bool) -> Iterator[tuple[list[Word], bool]]:
    """Each sentence's words, phonemized only when the chunker reaches it, and whether they end
    the sentence: a sentence longer than MAX_G2P_CHARS comes in pieces (see _g2p_pieces).

    The language finds the sentences of the whole paragraph at once (English: 2 ms for 2,000
    characters); phonemizing is the slow step, and it waits for the chunker. Sentences (and
    pieces) are separated by a space phoneme, whether or not the text has a space there (Japanese
    and Chinese write none after 。). `spaced_after`: the text has a space after the paragraph
    (a line break, or one beside a pause), which its last word says."""
    pieces = [
        (piece, n == len(cut) - 1)
        for sentence in phonemizer.sentences(paragraph)
        for cut in [_g2p_pieces(sentence)]
        for n, piece in enumerate(cut)
    ]
    searched = 0
    for n, (piece, sentence_ends) in enumerate(pieces):
        words = phonemizer(piece)
        found = paragraph.find(piece, searched)
        searched = searched if found < 0 else found + len(piece)
        if words and n < len(pieces) - 1:
            spaced = found < 0 or paragraph[searched : searched + 1].isspace()
            words[-1] = dataclasses.replace(words[-1], whitespace=spaced, spoken_space=True)
        elif words and spaced_after:
            words[-1] = dataclasses.replace(words[-1], whitespace=True)
        yield words, sentence_ends


def _g2p_pieces(sentence: str) -> list[str]:
    """The sentence in pieces of at most MAX_G2P_CHARS, each cut at its last space that fits, or
    inside a word as long (the text's words stay whole otherwise: a space joins no two pieces)."""
    pieces = []
    rest = sentence
    while len(rest) > MAX_G2P_CHARS:
        space = rest.rfind(" ", 1, MAX_G2P_CHARS + 1)
        cut = space if space > 0 else MAX_G2P_CHARS
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


def _word_ids(word: Word, vocab: Mapping[str, int]) -> list[int]:
    return [vocab[p] for p in word.phonemes if p in vocab]


def _added_tokens(last: Word | None, word: Word, vocab: Mapping[str, int]) -> int:
    """How many tokens `word` adds to a chunk that ends with `last`: its phonemes, and the space
    after `last` (which `_make_chunk` writes only between words, and only after a spoken one)."""
    space = 1 if last is not None and last.space_after and _word_ids(last, vocab) else 0
    return space + len(_word_ids(word, vocab))


def _best_cut(words: list[Word], ends: list[bool], vocab: Mapping[str, int]) -> int | None:
    """How many leading words to speak now: end at a sentence, else a clause, else a word; None to
    wait for more words.

    `ends` marks the words that end a sentence. A full stop inside a sentence is no sentence end:
    misaki phonemizes "St." as "sənt." and "Ave." as "Ave" then ".". A sentence longer than
    CHUNK_PHONEMES is still spoken whole if it fits the model: its end is awaited, and only a
    sentence longer than MAX_PHONEMES is cut inside, within CHUNK_PHONEMES."""
    fitting, total = 0, 0
    for word in words:
        ids = len(_word_ids(word, vocab))
        # a word's trailing space is only spoken if another word follows it in the chunk
        if fitting and total + ids > CHUNK_PHONEMES:
            break
        total += ids + (1 if word.space_after and ids else 0)
        fitting += 1
    for end in range(fitting, 0, -1):
        if ends[end - 1]:
            return end
    sentence = next((n + 1 for n, end in enumerate(ends) if end), len(words))
    if len(_make_chunk(words[:sentence], vocab).token_ids) <= MAX_PHONEMES:
        return sentence if ends[sentence - 1] else None
    for end in range(fitting, 0, -1):
        if words[end - 1].phonemes.rstrip()[-1:] in CLAUSE_ENDS:
            return end
    return fitting


def _fit_words(words: list[Word], vocab: Mapping[str, int]) -> Iterator[Word]:
    """A word longer than the model's limit is spoken in pieces; the first piece carries its text."""
    for word in words:
        ids = _word_ids(word, vocab)
        if len(ids) < MAX_PHONEMES:
            yield word
            continue
        known = "".join(p for p in word.phonemes if p in vocab)
        pieces = [known[i : i + MAX_PHONEMES - 1] for i in range(0, len(known), MAX_PHONEMES - 1)]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            text = word.text if n == 0 else ""
            yield dataclasses.replace(
                word,
                text=text,
                phonemes=piece,
                whitespace=word.whitespace and last,
                spoken_space=word.spoken_space if last else False,
            )


def _make_chunk(words: list[Word], vocab: Mapping[str, int]) -> Chunk:
    space = vocab[" "]
    token_ids: list[int] = []
    spans: list[tuple[int, int]] = []
    for n, word in enumerate(words):
        start = len(token_ids)
        token_ids.extend(_word_ids(word, vocab))
        spans.append((start, len(token_ids)))
        # a silent word (a symbol G2P skips) adds no space, so silence alone is never a chunk
        if word.space_after and n < len(words) - 1 and len(token_ids) > start:
            token_ids.append(space)
    return Chunk(tuple(words), tuple(token_ids), tuple(spans))


def plan_chunks(text: str, phonemizer: Phonemizer, vocab: Mapping[str, int]) -> Iterator[Chunk]:
    """split_into_chunks, raising before anything is yielded if the text is silent (NothingToSpeak)."""
    chunks = split_into_chunks(text, phonemizer, vocab)
    first = next(chunks, None)
    if first is None:
        raise NothingToSpeak("the text has nothing to speak: send words, not only spaces or symbols")
    yield first
    yield from chunks
