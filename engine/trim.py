"""Where the voice is in a chunk's audio: the silence the model puts around speech, found by level.

Kokoro starts every pass with about 0.3 s of silence (its start token's duration) and ends it
with about 0.45 s. Between two passes that is the pause between two sentences, as the model makes
it; before an answer's first word it is only a wait, and after its last word only dead air. The
timeline (engine.speech) trims those two ends, and these functions say where they are.

A 10 ms frame is voiced when its RMS is within VOICED_DB of the loudest frame's: relative, so a
soft voice and a loud one are trimmed alike, and low enough that a soft first consonant ("f",
"th") counts as speech.
"""

import numpy as np

from .audio import SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 100
#: a frame this far below the loudest frame of the audio is silence
VOICED_DB = 40.0


def voiced_frames(samples: np.ndarray) -> np.ndarray:
    """Whether each whole 10 ms frame of 24 kHz mono audio (int16 or float) is voiced."""
    count = samples.shape[0] // FRAME_SAMPLES
    if count == 0:
        return np.zeros(0, dtype=bool)
    frames = samples[: count * FRAME_SAMPLES].astype(np.float32).reshape(count, FRAME_SAMPLES)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    if rms.max() == 0:
        return np.zeros(count, dtype=bool)
    return rms > rms.max() * 10 ** (-VOICED_DB / 20)


def voiced_span(samples: np.ndarray) -> tuple[int, int] | None:
    """The samples from the first voiced frame's start to the last voiced frame's end, or None for
    silence."""
    voiced = np.flatnonzero(voiced_frames(samples))
    if voiced.size == 0:
        return None
    return int(voiced[0]) * FRAME_SAMPLES, (int(voiced[-1]) + 1) * FRAME_SAMPLES
