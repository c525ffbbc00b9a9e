import io
import wave

import numpy as np
import pytest

from benchmarks import speech_quality
from benchmarks.listening import seam_texts
from benchmarks.listening_routes import ROUTES, PcmStream, SpeechOnset
from benchmarks.listening_texts import FOLLOWERS, SENTENCES, longer_text

pytestmark = pytest.mark.unit

RATE = 24_000


def speech_after(silence_s: float, seconds: float = 0.5) -> np.ndarray:
    """`silence_s` of near silence (the model's floor, -80 dBFS), then a tone at -20 dBFS."""
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(round(silence_s * RATE)) * 3).astype(np.int16)
    time = np.arange(round(seconds * RATE)) / RATE
    tone = (3277 * np.sin(2 * np.pi * 220 * time)).astype(np.int16)
    return np.concatenate([quiet, tone])


def wav_file(samples: np.ndarray) -> bytes:
    file = io.BytesIO()
    with wave.open(file, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return file.getvalue()


def in_pieces(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, at = [], 0
    for size in sizes:
        pieces.append(data[at : at + size])
        at += size
    return [*pieces, data[at:]]


@pytest.mark.parametrize("sizes", [[1, 2, 3, 5, 7, 11, 13, 17, 19, 23], [43, 1, 1, 1], [10_001]])
def test_a_wav_file_cut_anywhere_gives_its_samples(sizes):
    samples = speech_after(0.1)
    stream = PcmStream(wav=True)
    heard = np.concatenate([stream.feed(piece) for piece in in_pieces(wav_file(samples), sizes)])
    assert np.array_equal(heard, samples)


def test_raw_pcm_cut_inside_a_sample_gives_its_samples():
    samples = speech_after(0.05)
    stream = PcmStream(wav=False)
    heard = np.concatenate([stream.feed(piece) for piece in in_pieces(samples.astype("<i2").tobytes(), [3, 5, 7])])
    assert np.array_equal(heard, samples)


def test_a_file_that_is_not_wav_is_refused():
    with pytest.raises(ValueError, match="not a WAV file"):
        PcmStream(wav=True).feed(b"ID3" + bytes(20))


@pytest.mark.parametrize("piece", [1, 239, 240, 241, 4_800, 100_000])
def test_speech_starts_where_the_whole_audio_says_however_it_arrives(piece):
    samples = speech_after(0.32)
    onset = SpeechOnset()
    heard_at = next(end for end in range(piece, samples.size + piece, piece) if onset.feed(samples[end - piece : end]))
    assert onset.at_s == pytest.approx(speech_quality.first_voiced_s(samples)) == pytest.approx(0.32)
    assert heard_at >= 0.33 * RATE  # not before the first voiced frame is whole


def test_silence_alone_never_starts_speech():
    onset = SpeechOnset()
    assert not onset.feed(speech_after(1.0, seconds=0))
    assert onset.at_s is None


def test_the_sentences_are_plain_and_every_route_hears_both_forms():
    assert len(SENTENCES) >= 30
    for sentence in (*SENTENCES, *FOLLOWERS):
        assert 6 <= len(sentence.split()) <= 40
        assert sentence[-1] == "." and sentence[:-1].replace(" ", "").isalpha(), sentence
    plan = seam_texts(4, both_forms=False)
    assert set(plan) == set(ROUTES)
    for texts in plan.values():
        assert {form for form, _ in texts} == {"alone", "start"}
    assert {text for texts in plan.values() for _, text in texts} == {*SENTENCES[:4], *map(longer_text, range(4))}
