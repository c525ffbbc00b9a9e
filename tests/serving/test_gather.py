"""Gathering an agent's text into sentences: complete ones at once, nothing glued, nothing lost."""

import pytest

from engine.languages import Phonemizers
from serving.gather import TextGatherer

pytestmark = pytest.mark.unit


def gathered(pieces: list[str]) -> tuple[list[str], str]:
    """The sentences handed out as the pieces arrive, and what is left."""
    gatherer = TextGatherer(Phonemizers().get("a").sentences)
    spoken = []
    for piece in pieces:
        gatherer.add(piece)
        if sentence := gatherer.complete():
            spoken.append(sentence)
    return spoken, gatherer.rest()


def test_a_sentence_is_handed_out_once_the_next_one_begins():
    spoken, rest = gathered(["Hello", " there", ".", " How", " are", " you"])
    assert spoken == ["Hello there."] and rest == "How are you"


def test_a_sentence_that_ends_in_a_space_is_complete_at_once():
    assert gathered(["It is done. "]) == (["It is done."], "")


def test_an_abbreviation_does_not_end_a_sentence():
    spoken, rest = gathered(["Dr.", " Smith", " came", " in", ".", " Then"])
    assert spoken == ["Dr. Smith came in."] and rest == "Then"


def test_sentences_sent_without_spaces_between_them_are_not_glued():
    spoken, rest = gathered(["Down at the pier.", "A boat came in.", "It left"])
    assert spoken == ["Down at the pier.", "A boat came in."] and rest == "It left"


@pytest.mark.parametrize(("pieces", "text"), [(["3", ".", "5"], "3.5"), (["e.g", "."], "e.g.")])
def test_marks_inside_numbers_and_words_stay_as_written(pieces, text):
    assert gathered(pieces) == ([], text)


@pytest.mark.parametrize(("text", "pause"), [("Wait,", True), ("Really?", True), ("He said", False), ("", False)])
def test_a_pause_is_a_sentence_or_clause_mark_at_the_end(text, pause):
    gatherer = TextGatherer(lambda text: [text])
    gatherer.add(text)
    assert gatherer.at_pause() == pause
