"""Windows: which frames of a stream's first sentence to decode at a time, so that its first audio
leaves soon and the listener never runs out of it.

The decoder (engine.onnx_windows) can render a window of a chunk's frames, with some context
either side, after the front has run on the whole chunk. A short first window is heard sooner;
each window after it must be decoded before the audio sent so far has played, or the listener
hears the sentence stop halfway. How large each may be depends on how fast this device decodes
right now, which the HTTP face measures (serving.synthesize) and these functions are given.
"""

from .audio import SAMPLE_RATE
from .synthesis import WINDOW_CONTEXT_FRAMES, decoded_span
from .timing import SAMPLES_PER_FRAME

#: A stream's first sentence is decoded in windows: a first one, then each as large as can be
#: decoded before the audio sent has played, so its first audio leaves after the front and one
#: short window, with the whole sentence's prosody (benchmarks/windowed_decode.py scores the
#: windows against the whole decode, and the gaps a listener would hear). The fewest frames in the
#: first window: 1 s of audio, 0.3 s of it the silence before the first word.
FIRST_WINDOW_FRAMES = 40
#: frames the model gives a phoneme token at speed 1, on average (2.4 measured on plain English)
FRAMES_PER_TOKEN = 2.5
#: the silence the model puts before a sentence's first word (its start token's frames), which
#: the timeline trims from an answer's first audio: the first window plays that much shorter
LEAD_SILENCE_FRAMES = 12
#: the most windows a sentence is decoded in: each is a seam where the decoder saw only part of
#: the sentence, and a first window then the rest score as the whole decode where windows all
#: along do not (engine.synthesis.WINDOW_CONTEXT_FRAMES)
MOST_WINDOWS = 3
#: the first window grows in steps of this many frames until the windows after it keep ahead
WINDOW_STEP_FRAMES = 8
FRAME_S = SAMPLES_PER_FRAME / SAMPLE_RATE


def estimated_frames(token_count: int, speed: float) -> int:
    """The frames a chunk of `token_count` tokens will likely get, its start and end tokens' among them."""
    return round((token_count + 2) * FRAMES_PER_TOKEN / speed)


def next_window_end(start: int, frame_count: int, ahead_s: float, seconds_per_frame: float, fewest: int) -> int:
    """Where the window that starts at frame `start` ends: the chunk's end if the rest can be
    decoded before the `ahead_s` seconds of audio the listener has not heard yet run out, at
    `seconds_per_frame` of decoding, or if they have run out already (a window would only add a
    seam); else as far as can be decoded by then. A window is `fewest` frames at least, and
    leaves `fewest` at least for the last one: a smaller one is mostly context, so a listener who
    is ahead gains nothing from it, and one who is behind would wait longer for the same frames."""
    first, last = decoded_span(start, frame_count, frame_count)
    if ahead_s <= 0 or (last - first) * seconds_per_frame <= ahead_s:
        return frame_count
    fitting = min(int(ahead_s / seconds_per_frame) - 2 * WINDOW_CONTEXT_FRAMES, frame_count - start - fewest)
    return start + fitting if fitting >= fewest else frame_count


def window_after(
    window: int, start: int, frame_count: int, ahead_s: float, seconds_per_frame: float, fewest: int
) -> int:
    """Where a sentence's `window`-th window (the first is 1) ends: `next_window_end`, or the
    sentence's end for the last of MOST_WINDOWS."""
    if window >= MOST_WINDOWS:
        return frame_count
    return next_window_end(start, frame_count, ahead_s, seconds_per_frame, fewest)


def first_window_end(frame_count: int, seconds_per_frame: float | None, fewest: int) -> int:
    """The frames of a sentence's first window: the fewest (from `fewest` up) whose audio lasts
    until the windows after it, sized by `window_after`, are decoded at `seconds_per_frame`;
    the whole sentence if none does: a listener rather waits longer for the first word than hears
    the sentence stop halfway. With no pace measured yet, `fewest`."""
    if not seconds_per_frame:
        return min(fewest, frame_count)
    for first in range(fewest, frame_count, WINDOW_STEP_FRAMES):
        if _keeps_ahead(first, frame_count, seconds_per_frame, fewest):
            return first
    return frame_count


def _keeps_ahead(first: int, frame_count: int, seconds_per_frame: float, fewest: int) -> bool:
    """Whether each window after a first of `first` frames is decoded before the audio before it
    has played, each asked for as the one before arrives."""
    ahead_s, start, windows = (first - LEAD_SILENCE_FRAMES) * FRAME_S, first, 1
    while start < frame_count:
        windows += 1
        end = window_after(windows, start, frame_count, ahead_s, seconds_per_frame, fewest)
        decoded_from, decoded_to = decoded_span(start, end, frame_count)
        took_s = (decoded_to - decoded_from) * seconds_per_frame
        if took_s > ahead_s:
            return False
        ahead_s, start = ahead_s - took_s + (end - start) * FRAME_S, end
    return True
