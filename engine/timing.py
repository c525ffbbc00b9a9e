"""Word timing: the model's per-token durations -> each word's start and end in the audio.

KModel predicts how many frames each input token lasts (pred_dur, start and end tokens
included); the audio is exactly SAMPLES_PER_FRAME samples per frame. A word lasts from its
first phoneme's first frame to its last phoneme's last frame; the space after it is a gap.
Chunks are spoken one after another, so each chunk's words are offset by the audio before it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .audio import SAMPLE_RATE
from .text import Chunk

#: 1 duration frame = 600 samples = 25 ms at 24 kHz (iSTFTNet upsampling 10 x 6, hop 5, x2 for F0)
SAMPLES_PER_FRAME = 600
#: duration frames Kokoro-82M gives a phoneme token at speed 1 on average, start and end tokens
#: included: 2.4, measured on a few sentences of plain English. Each estimate made before the
#: model runs plans at its own margin above it (engine.windows, engine.batching).
MEASURED_FRAMES_PER_TOKEN = 2.4


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float
    phonemes: str
    #: the Kokoro TTS API's string: " " when a space follows the word in the text, "" when not
    whitespace: str


def estimated_frames(token_count: int, speed: float, frames_per_token: float) -> float:
    """The frames a chunk of `token_count` phoneme tokens will likely get at `speed`, its start
    and end tokens' among them, before the model has said. `frames_per_token` is the caller's
    figure, MEASURED_FRAMES_PER_TOKEN times its own margin: exactly 2.5 for a first window
    (engine.windows) and 3 for a batch's plan (engine.batching), the figures their estimates
    are made at, which their tests hold."""
    return (token_count + 2) * frames_per_token / speed


def word_timings(chunk: Chunk, frames: Sequence[int], offset_s: float) -> list[WordTiming]:
    """Timings of `chunk`'s words; `frames` is pred_dur: [start token, *token_ids, end token]."""
    if len(frames) != len(chunk.token_ids) + 2:
        raise ValueError(f"{len(frames)} durations for {len(chunk.token_ids)} tokens plus start and end")
    elapsed = [0]
    for count in frames:
        elapsed.append(elapsed[-1] + int(count))
    seconds_per_frame = SAMPLES_PER_FRAME / SAMPLE_RATE
    timings = []
    for word, (start, end) in zip(chunk.words, chunk.word_spans, strict=True):
        if not word.text:
            continue  # a later piece of a word too long for one pass: timed with its first piece
        # token i sits at frames[i + 1], after the start token
        timings.append(
            WordTiming(
                word=word.text,
                start_s=round(offset_s + elapsed[start + 1] * seconds_per_frame, 3),
                end_s=round(offset_s + elapsed[end + 1] * seconds_per_frame, 3),
                phonemes=word.phonemes,
                whitespace=" " if word.whitespace else "",
            )
        )
    return timings
