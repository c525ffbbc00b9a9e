import io
import struct

import av
import numpy as np
import pytest
import soundfile

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS, UNKNOWN_SIZE, encode_whole, to_pcm16


@pytest.fixture
def tone() -> np.ndarray:
    """One second of a 440 Hz sine at half scale."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    return samples, rate


def test_pcm16_clips_and_scales():
    assert np.frombuffer(to_pcm16(np.array([-2.0, -1.0, 0.0, 0.5, 2.0])), "<i2").tolist() == [
        -32767, -32767, 0, 16384, 32767,
    ]  # fmt: skip


def test_whole_wav_has_its_exact_length_and_reads_back(tone):
    data = encode_whole(tone, "wav")
    assert struct.unpack("<I", data[40:44])[0] == 2 * SAMPLE_RATE
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == SAMPLE_RATE
    assert np.abs(samples - tone).max() < 1e-4


def test_streamed_wav_reads_back_without_knowing_its_length(tone):
    encoder = STREAM_ENCODERS["wav"]()
    data = encoder.encode(tone[:10_000]) + encoder.encode(tone[10_000:]) + encoder.flush()
    assert struct.unpack("<I", data[40:44])[0] == UNKNOWN_SIZE
    samples, rate = decode(data)
    assert rate == SAMPLE_RATE
    assert samples.shape[0] == SAMPLE_RATE
    with soundfile.SoundFile(io.BytesIO(data)) as wav:
        assert wav.samplerate == SAMPLE_RATE
        assert np.abs(wav.read(dtype="float32") - tone).max() < 1e-4


@pytest.mark.parametrize(("audio_format", "codec"), [("mp3", "mp3"), ("aac", "aac")])
def test_compressed_formats_decode_to_the_same_duration_and_pitch(tone, audio_format, codec):
    encoder = STREAM_ENCODERS[audio_format]()
    pieces = [encoder.encode(tone[:12_000]), encoder.encode(tone[12_000:]), encoder.flush()]
    with av.open(io.BytesIO(b"".join(pieces))) as container:
        assert container.format.name == codec
    samples, rate = decode(b"".join(pieces))
    assert rate == SAMPLE_RATE
    assert abs(samples.shape[0] - SAMPLE_RATE) < 0.1 * SAMPLE_RATE  # encoder priming and padding
    spectrum = np.abs(np.fft.rfft(samples[:SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(samples[:SAMPLE_RATE]) - 440) < 5


def test_streamed_mp3_yields_bytes_before_it_is_flushed(tone):
    encoder = STREAM_ENCODERS["mp3"]()
    assert len(encoder.encode(tone)) > 0
