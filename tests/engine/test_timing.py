import pytest

from engine.languages import Word
from engine.text import Chunk
from engine.timing import SAMPLES_PER_FRAME, word_timings

pytestmark = pytest.mark.unit

FRAME_S = SAMPLES_PER_FRAME / 24_000


def two_words() -> Chunk:
    # "hi you": h i _ y o u  (the space is token 2)
    words = (Word("hi", "hi", True), Word("you", "yu", False))
    return Chunk(words, (1, 2, 3, 4, 5), ((0, 2), (3, 5)))


def test_words_span_their_own_phonemes_and_leave_the_space_as_a_gap():
    frames = [4, 2, 3, 5, 1, 6, 7]  # start, h, i, space, y, u, end
    hi, you = word_timings(two_words(), frames, offset_s=0.0)
    assert (hi.start_s, hi.end_s) == pytest.approx((4 * FRAME_S, 9 * FRAME_S))
    assert (you.start_s, you.end_s) == pytest.approx((14 * FRAME_S, 21 * FRAME_S))
    assert (hi.word, hi.phonemes, hi.whitespace) == ("hi", "hi", " ")


def test_offset_places_a_later_chunk_after_the_audio_before_it():
    frames = [4, 2, 3, 5, 1, 6, 7]
    first = word_timings(two_words(), frames, 0.0)
    later = word_timings(two_words(), frames, 12.5)
    assert [w.start_s - 12.5 for w in later] == pytest.approx([w.start_s for w in first])


def test_last_word_ends_before_the_end_token_and_inside_the_audio():
    frames = [4, 2, 3, 5, 1, 6, 7]
    audio_s = sum(frames) * FRAME_S
    *_, last = word_timings(two_words(), frames, 0.0)
    assert last.end_s == pytest.approx(audio_s - 7 * FRAME_S)


def test_durations_must_match_the_tokens():
    with pytest.raises(ValueError, match="durations"):
        word_timings(two_words(), [1, 2, 3], 0.0)


def test_pieces_of_a_split_word_are_timed_with_their_first_piece():
    words = (Word("long", "lo", False), Word("", "ng", False))
    chunk = Chunk(words, (1, 2, 3, 4), ((0, 2), (2, 4)))
    assert [w.word for w in word_timings(chunk, [1, 1, 1, 1, 1, 1], 0.0)] == ["long"]
