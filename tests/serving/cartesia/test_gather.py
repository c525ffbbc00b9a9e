"""Gathering an agent's text into sentences: complete ones at once, nothing glued, nothing lost."""

import pytest

from engine.languages import Phonemizers
from serving.cartesia.gather import TAIL_CONTEXT_CHARS, TextGatherer, parts

pytestmark = pytest.mark.unit


def gathered(pieces: list[str]) -> tuple[list[str], str]:
    """The sentences handed out as the pieces arrive, and what is left."""
    gatherer = TextGatherer(Phonemizers().get("a").sentences, 1_000)
    taken = []
    for piece in pieces:
        gatherer.add(piece)
        if sentence := gatherer.complete():
            taken.append(sentence)
    return taken, gatherer.rest()


def test_a_sentence_is_handed_out_once_the_next_one_begins():
    taken, rest = gathered(["Hello", " there", ".", " How", " are", " you"])
    assert taken == ["Hello there."] and rest == "How are you"


def test_a_sentence_that_ends_in_a_space_is_complete_at_once():
    assert gathered(["It is done. "]) == (["It is done."], "")


def test_an_abbreviation_does_not_end_a_sentence():
    taken, rest = gathered(["Dr.", " Smith", " came", " in", ".", " Then"])
    assert taken == ["Dr. Smith came in."] and rest == "Then"


def test_sentences_sent_without_spaces_between_them_are_not_glued():
    taken, rest = gathered(["Down at the pier.", "A boat came in.", "It left"])
    assert taken == ["Down at the pier.", "A boat came in."] and rest == "It left"


@pytest.mark.parametrize(("pieces", "text"), [(["3", ".", "5"], "3.5"), (["e.g", "."], "e.g.")])
def test_marks_inside_numbers_and_words_stay_as_written(pieces, text):
    assert gathered(pieces) == ([], text)


@pytest.mark.parametrize(("text", "pause"), [("Wait,", True), ("Really?", True), ("He said", False), ("", False)])
def test_a_pause_is_a_sentence_or_clause_mark_at_the_end(text, pause):
    gatherer = TextGatherer(lambda text: [text], 1_000)
    gatherer.add(text)
    assert gatherer.at_pause() == pause


def test_text_that_runs_on_past_the_limit_is_taken_in_parts_at_word_boundaries_and_nothing_is_lost():
    gatherer = TextGatherer(lambda text: [text], 100)
    words = [f"word{n}" for n in range(80)]
    taken = []
    for word in words:
        gatherer.add(word + " ")
        while part := gatherer.overflow():
            taken.append(part)
    taken.append(gatherer.rest())
    assert all(len(part) <= 100 for part in taken) and len(taken) >= 5
    assert " ".join(taken).split() == words


@pytest.mark.parametrize(
    ("text", "first"),
    [("One. Two, three four", "One."), ("One, two three four", "One,"), ("One two three four", "One two three")],
)
def test_a_part_ends_at_its_last_sentence_then_clause_then_word_boundary(text, first):
    assert next(parts(text, 16)) == first


def test_one_long_word_is_cut_at_the_limit():
    assert list(parts("x" * 250, 100)) == ["x" * 100, "x" * 100, "x" * 50]


def test_the_splitter_reads_only_the_tail_and_only_once_a_mark_has_come():
    """Work per piece is bounded whatever came before: a long clause sent word by word, with one
    abbreviation in it, is never split whole."""
    read: list[int] = []
    split = Phonemizers().get("a").sentences

    def counted(text: str) -> list[str]:
        read.append(len(text))
        return split(text)

    gatherer = TextGatherer(counted, 10_000)
    for n in range(600):
        gatherer.add(" Dr." if n == 300 else f" word{n}")
        if gatherer.may_complete():
            assert not gatherer.complete()
    assert len(gatherer.pending) > 4_000
    assert read and max(read) <= TAIL_CONTEXT_CHARS + 20
    assert len(read) <= TAIL_CONTEXT_CHARS // 5  # only while the mark is within the tail
