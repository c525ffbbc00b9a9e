"""A context's audio at the rate and in the encoding its client asked for."""

import numpy as np
import soxr

from engine.audio import SAMPLE_RATE

from .messages import OutputFormat


class AudioOut:
    """A context's audio as the client asked for it: resampled as one continuous stream (soxr),
    so that chunk edges make no clicks, and written as 16-bit or float PCM."""

    def __init__(self, output: OutputFormat):
        self.output = output
        rate = output.sample_rate
        self._resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(SAMPLE_RATE, rate, 1, dtype="int16")

    def convert(self, pcm16: np.ndarray, last: bool = False) -> bytes:
        if self._resampler is not None:
            pcm16 = self._resampler.resample_chunk(pcm16, last=last)
        if self.output.encoding == "pcm_f32le":
            return (pcm16.astype("<f4") / 32768.0).tobytes()
        return pcm16.astype("<i2").tobytes()
