"""Which frames of a stream's first sentence are decoded at a time."""

import pytest

from engine.timing import MEASURED_FRAMES_PER_TOKEN, estimated_frames
from engine.windows import WINDOW_FRAMES_PER_TOKEN, first_window_end

pytestmark = pytest.mark.unit


def test_a_first_window_is_the_fewest_frames_when_the_device_decodes_the_rest_in_its_time():
    # the rest of 120 frames, 32 of context before it: 152 x 3 ms = 0.46 s; 40 frames play 0.7 s
    assert first_window_end(160, seconds_per_frame=0.003, fewest=40) == 40
    assert first_window_end(300, seconds_per_frame=None, fewest=40) == 40  # no pace measured yet
    assert first_window_end(30, seconds_per_frame=0.003, fewest=40) == 30  # a sentence shorter than it


def test_a_first_window_grows_until_the_rest_is_decoded_before_it_has_played():
    # at 10 ms a frame, the rest of 300 frames from frame 104 (and its context) takes 2.28 s, what
    # 104 frames play from the first word (2.3 s); 96 frames would play 2.1 s of the 2.36 s needed
    assert first_window_end(300, seconds_per_frame=0.01, fewest=40) == 104
    assert first_window_end(300, seconds_per_frame=0.005, fewest=40) < 104  # a faster device: sooner


def test_the_first_window_is_the_whole_sentence_where_the_rest_could_never_be_decoded_in_time():
    assert first_window_end(300, seconds_per_frame=0.2, fewest=40) == 300


def test_a_first_sentence_is_estimated_at_2_5_frames_a_token_at_its_speed():
    assert WINDOW_FRAMES_PER_TOKEN == 2.5 and WINDOW_FRAMES_PER_TOKEN > MEASURED_FRAMES_PER_TOKEN
    assert estimated_frames(38, 1.0, WINDOW_FRAMES_PER_TOKEN) == 100
    assert estimated_frames(38, 2.0, WINDOW_FRAMES_PER_TOKEN) == 50
