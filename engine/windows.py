"""Windows: which frames of a stream's first sentence to decode first, so that its first audio
leaves soon and the listener never runs out of it.

The decoder (engine.onnx_windows) can render a window of a chunk's frames, with some context
either side, after the front has run on the whole chunk. A short first window is heard sooner;
the rest must be decoded before the first has played, or the listener hears the sentence stop
halfway. How short the first may be depends on how fast this device decodes right now, which the
HTTP face measures (serving.core.lanes) and these functions are given.
"""

from .audio import SAMPLE_RATE
from .synthesis import decoded_span
from .timing import MEASURED_FRAMES_PER_TOKEN, SAMPLES_PER_FRAME

#: A stream's first sentence is decoded in two windows: a first one, then the rest, so its first
#: audio leaves after the front and a short window, with the whole sentence's prosody
#: (benchmarks/windowed_decode.py scores them against the whole decode, and measures the gaps a
#: listener would hear). More windows would start no sooner and each is a seam where the decoder
#: saw only part of the sentence: a third one, in the middle, cost 0.04 to 0.10 on the quality
#: score where two cost nothing. The fewest frames in the first window: 1 s of audio, 0.3 s of it
#: the silence before the first word.
FIRST_WINDOW_FRAMES = 40
#: a first sentence's frames are estimated a little over the measured average: a sentence
#: estimated long gets a first window sized for a longer rest, on the side of a later first word
#: rather than a gap in the sentence
WINDOW_MARGIN = 25 / 24
#: 2.5 frames a token, exactly (tests/engine/test_windows.py)
WINDOW_FRAMES_PER_TOKEN = MEASURED_FRAMES_PER_TOKEN * WINDOW_MARGIN
#: the silence the model puts before a sentence's first word (its start token's frames), which
#: the timeline trims from an answer's first audio: the first window plays that much shorter
LEAD_SILENCE_FRAMES = 12
#: the first window grows in steps of this many frames until the rest can be decoded in its time
WINDOW_STEP_FRAMES = 8
FRAME_S = SAMPLES_PER_FRAME / SAMPLE_RATE


def first_window_end(frame_count: int, seconds_per_frame: float | None, fewest: int) -> int:
    """The frames of a sentence's first window: the fewest (from `fewest` up) whose audio, from
    the first word, lasts until the rest (with its context) is decoded at `seconds_per_frame`;
    the whole sentence if none does: a listener rather waits longer for the first word than hears
    the sentence stop halfway. With no pace measured yet, `fewest`."""
    if not seconds_per_frame:
        return min(fewest, frame_count)
    for first in range(fewest, frame_count, WINDOW_STEP_FRAMES):
        rest_from, rest_to = decoded_span(first, frame_count, frame_count)
        if (rest_to - rest_from) * seconds_per_frame <= (first - LEAD_SILENCE_FRAMES) * FRAME_S:
            return first
    return frame_count
