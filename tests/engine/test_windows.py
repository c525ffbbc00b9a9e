"""Which frames of a stream's first sentence are decoded at a time."""

import pytest

from engine.synthesis import WINDOW_CONTEXT_FRAMES
from engine.windows import estimated_frames, first_window_end, next_window_end, window_after

pytestmark = pytest.mark.unit


def test_the_rest_of_a_sentence_is_one_window_when_it_is_decoded_before_the_audio_ahead_has_played():
    # 60 frames and 32 of context at 5 ms each: 0.46 s
    assert next_window_end(40, 100, ahead_s=0.5, seconds_per_frame=0.005, fewest=40) == 100
    assert (
        next_window_end(40, 100, ahead_s=0.4, seconds_per_frame=0.005, fewest=40) == 100
    )  # nor is a window left so small


def test_a_window_holds_what_can_be_decoded_before_the_audio_ahead_has_played():
    end = next_window_end(40, 400, ahead_s=1.0, seconds_per_frame=0.005, fewest=40)
    assert end == 40 + 200 - 2 * WINDOW_CONTEXT_FRAMES  # 1 s of decoding: 200 frames, its context among them
    slower = next_window_end(40, 400, ahead_s=1.0, seconds_per_frame=0.006, fewest=40)
    assert 40 + 40 <= slower < end
    # the last window keeps the fewest frames at least
    assert next_window_end(40, 210, ahead_s=1.0, seconds_per_frame=0.005, fewest=40) == 210 - 40


def test_a_listener_too_far_behind_for_a_useful_window_gets_the_rest_at_once():
    assert next_window_end(40, 400, ahead_s=0.3, seconds_per_frame=0.005, fewest=40) == 400  # 60 frames: all context
    assert next_window_end(40, 400, ahead_s=0.0, seconds_per_frame=0.0, fewest=40) == 400
    assert next_window_end(40, 400, ahead_s=-0.2, seconds_per_frame=0.005, fewest=40) == 400


def test_a_first_window_is_the_fewest_frames_when_the_device_decodes_fast_enough_to_keep_ahead():
    assert first_window_end(200, seconds_per_frame=0.004, fewest=40) == 40
    assert first_window_end(200, seconds_per_frame=None, fewest=40) == 40  # no pace measured yet
    assert first_window_end(30, seconds_per_frame=0.004, fewest=40) == 30  # a sentence shorter than it


def test_a_first_window_grows_where_the_windows_after_it_could_not_keep_ahead_of_the_listener():
    fast = first_window_end(300, seconds_per_frame=0.004, fewest=40)
    loaded = first_window_end(300, seconds_per_frame=0.01, fewest=40)
    assert fast < loaded < 300
    # at 0.4 s of decoding per second of audio, 40 frames play 0.7 s after the trimmed lead: time
    # to decode 6 frames and their context, and two more windows could not catch up with the rest
    assert loaded > 60
    # slower than the audio plays: most of the sentence first, so that the rest is decoded in its time
    assert first_window_end(300, seconds_per_frame=0.03, fewest=40) > 150


def test_the_first_window_is_the_whole_sentence_where_the_rest_could_never_be_decoded_in_time():
    assert first_window_end(300, seconds_per_frame=0.2, fewest=40) == 300


def test_a_sentence_comes_in_three_windows_at_most():
    assert window_after(2, 40, 1_000, ahead_s=2.0, seconds_per_frame=0.005, fewest=40) == 40 + 400 - 64
    assert window_after(3, 40, 1_000, ahead_s=2.0, seconds_per_frame=0.005, fewest=40) == 1_000


def test_a_chunk_is_estimated_its_tokens_frames_at_its_speed():
    assert estimated_frames(38, 1.0) == 100
    assert estimated_frames(38, 2.0) == 50
