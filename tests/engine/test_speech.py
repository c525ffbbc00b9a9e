"""The timeline: chunks' audio placed one after another, the silence at an answer's ends trimmed."""

import numpy as np
import pytest

from engine.audio import SAMPLE_RATE
from engine.languages import Word
from engine.speech import LEAD_SAMPLES, TAIL_SAMPLES, Timeline
from engine.synthesis import ChunkAudio, silence
from engine.text import Chunk
from engine.timing import SAMPLES_PER_FRAME
from engine.trim import voiced_span

pytestmark = pytest.mark.unit

#: the model's shape of a pass: its start token's silence, the words, its end's silence
START_FRAMES, WORD_FRAMES, END_FRAMES = 12, 20, 18


def two_words() -> Chunk:
    # "hi you": h i _ y o u  (the space is token 2)
    words = (Word("hi", "hi", True), Word("you", "yu", False))
    return Chunk(words, (1, 2, 3, 4, 5), ((0, 2), (3, 5)))


def spoken_pass() -> ChunkAudio:
    """A chunk's audio as the model makes one: silence, a tone where the words are, silence."""
    frames = [START_FRAMES, 4, 4, 4, 4, 4, END_FRAMES]
    voiced = WORD_FRAMES * SAMPLES_PER_FRAME
    tone = (8000 * np.sin(np.arange(voiced) * 2 * np.pi * 220 / SAMPLE_RATE)).astype(np.int16)
    pcm = np.concatenate([np.zeros(START_FRAMES * SAMPLES_PER_FRAME, np.int16), tone])
    pcm = np.concatenate([pcm, np.zeros(END_FRAMES * SAMPLES_PER_FRAME, np.int16)])
    return ChunkAudio(pcm16=pcm.astype("<i2").tobytes(), frames=frames)


def test_an_answer_starts_with_its_first_sound_and_its_words_move_with_it():
    timeline = Timeline()
    placed = timeline.add(two_words(), spoken_pass())
    start, _ = voiced_span(placed.samples)
    assert start <= LEAD_SAMPLES
    # the first word starts where its sound does: after the lead kept
    assert placed.words[0].start_s == pytest.approx(LEAD_SAMPLES / SAMPLE_RATE, abs=0.001)


def test_the_silence_after_a_chunk_waits_for_the_next_and_an_answer_ends_soon_after_its_last_sound():
    timeline = Timeline()
    first = timeline.add(two_words(), spoken_pass())
    assert first.samples.shape[0] - voiced_span(first.samples)[1] == TAIL_SAMPLES
    second = timeline.add(two_words(), spoken_pass())
    # between the two, the model's whole pause: the first's end silence and the second's start
    gap = second.samples.shape[0] - (WORD_FRAMES * SAMPLES_PER_FRAME + TAIL_SAMPLES)
    assert gap == (END_FRAMES + START_FRAMES) * SAMPLES_PER_FRAME - TAIL_SAMPLES
    assert second.start_s == pytest.approx(first.samples.shape[0] / SAMPLE_RATE)
    assert second.words[0].start_s == pytest.approx(second.start_s + gap / SAMPLE_RATE, abs=0.001)
    assert timeline.duration_s == pytest.approx((first.samples.shape[0] + second.samples.shape[0]) / SAMPLE_RATE)
    assert all(word.end_s <= timeline.duration_s for word in [*first.words, *second.words])


def test_a_pause_is_placed_whole_after_the_silence_held_before_it():
    timeline = Timeline()
    first = timeline.add(two_words(), spoken_pass())
    pause = timeline.add(Chunk((), (), (), pause_s=0.5), silence(0.5))
    held = (END_FRAMES * SAMPLES_PER_FRAME) - (first.samples.shape[0] - voiced_span(first.samples)[1])
    assert pause.samples.shape[0] == held + round(0.5 * SAMPLE_RATE)
    assert not pause.samples.any()


def test_a_timeline_that_continues_audio_already_played_keeps_the_lead():
    timeline = Timeline()
    timeline.add(Chunk((), (), (), pause_s=0.2), silence(0.2))
    placed = timeline.add(two_words(), spoken_pass())
    assert voiced_span(placed.samples)[0] == START_FRAMES * SAMPLES_PER_FRAME


def test_a_chunk_in_windows_is_placed_as_the_whole_chunk_is():
    whole = spoken_pass()
    cut = 20 * SAMPLES_PER_FRAME * 2  # bytes: the first window holds 20 frames, "hi" and the space
    windows = [
        ChunkAudio(pcm16=whole.pcm16[:cut], frames=whole.frames),
        ChunkAudio(pcm16=whole.pcm16[cut:], frames=whole.frames, frames_from=20),
    ]
    at_once = Timeline().add(two_words(), whole)
    timeline = Timeline()
    placed = [timeline.add(two_words(), window) for window in windows]
    assert np.array_equal(np.concatenate([p.samples for p in placed]), at_once.samples)
    assert [[w.word for w in p.words] for p in placed] == [["hi"], ["you"]]
    assert [w for p in placed for w in p.words] == at_once.words
    assert timeline.duration_s == pytest.approx(at_once.samples.shape[0] / SAMPLE_RATE)
