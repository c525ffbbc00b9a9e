import io
import struct

import av
import numpy as np
import pytest
import soundfile

from engine.audio import FORMATS, SAMPLE_RATE, STREAM_ENCODERS, UNKNOWN_SIZE, encode_whole, to_pcm16

pytestmark = pytest.mark.unit


@pytest.fixture
def tone() -> np.ndarray:
    """One second of a 440 Hz sine at half scale, as PCM16."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    return to_pcm16((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))


def decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    return samples, rate


def test_pcm16_clips_scales_and_rounds():
    pcm16 = to_pcm16(np.array([-2.0, -1.0, 0.0, 0.5, 2.0, 0.4 / 32767, 0.6 / 32767], dtype=np.float32))
    assert pcm16.dtype == np.int16
    assert pcm16.tolist() == [-32767, -32767, 0, 16384, 32767, 0, 1]


def test_whole_wav_has_its_exact_length_and_reads_back_sample_for_sample(tone):
    data = encode_whole(tone, "wav")
    assert struct.unpack("<I", data[40:44])[0] == 2 * SAMPLE_RATE
    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16")
    assert rate == SAMPLE_RATE
    np.testing.assert_array_equal(samples, tone)


def test_streamed_wav_reads_back_without_knowing_its_length(tone):
    encoder = STREAM_ENCODERS["wav"]()
    data = encoder.encode(tone[:10_000]) + encoder.encode(tone[10_000:]) + encoder.flush()
    assert struct.unpack("<I", data[40:44])[0] == UNKNOWN_SIZE
    samples, rate = decode(data)
    assert rate == SAMPLE_RATE
    assert samples.shape[0] == SAMPLE_RATE
    with soundfile.SoundFile(io.BytesIO(data)) as wav:
        assert wav.samplerate == SAMPLE_RATE
        np.testing.assert_array_equal(wav.read(dtype="int16"), tone)


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


@pytest.mark.parametrize("audio_format", FORMATS)
def test_encoders_take_pcm16_only(tone, audio_format):
    """Float samples would be truncated to silence: they are refused, whole or streamed."""
    floats = tone / 32768.0
    with pytest.raises(TypeError, match="to_pcm16"):
        encode_whole(floats, audio_format)
    with pytest.raises(TypeError, match="to_pcm16"):
        STREAM_ENCODERS[audio_format]().encode(floats)


@pytest.mark.parametrize("audio_format", ["opus", "flac"])
def test_opus_and_flac_stream_and_decode_to_the_same_duration_and_pitch(tone, audio_format):
    """Opus decodes at 48 kHz, as every Opus decoder does: its duration is compared, not its count."""
    encoder = STREAM_ENCODERS[audio_format]()
    first = encoder.encode(tone[:12_000])
    assert first  # streamed: bytes leave before the flush
    samples, rate = decode(first + encoder.encode(tone[12_000:]) + encoder.flush())
    assert rate == (48_000 if audio_format == "opus" else SAMPLE_RATE)
    assert abs(samples.shape[0] / rate - 1.0) < 0.03  # encoder priming and padding
    spectrum = np.abs(np.fft.rfft(samples[:rate]))
    assert abs(np.argmax(spectrum) * rate / len(samples[:rate]) - 440) < 5


def test_whole_flac_is_lossless_and_carries_its_length_for_libsndfile(tone):
    samples, rate = soundfile.read(io.BytesIO(encode_whole(tone, "flac")), dtype="int16")
    assert rate == SAMPLE_RATE
    np.testing.assert_array_equal(samples, tone)


def test_whole_opus_reads_with_libsndfile_at_24_khz(tone):
    samples, rate = soundfile.read(io.BytesIO(encode_whole(tone, "opus")), dtype="int16")
    assert rate == SAMPLE_RATE
    assert abs(samples.shape[0] - SAMPLE_RATE) < 0.03 * SAMPLE_RATE


def test_pcm_is_the_samples_little_endian_streamed_or_whole(tone):
    encoder = STREAM_ENCODERS["pcm"]()
    streamed = encoder.encode(tone[:1000]) + encoder.encode(tone[1000:]) + encoder.flush()
    assert streamed == encode_whole(tone, "pcm")
    np.testing.assert_array_equal(np.frombuffer(streamed, dtype="<i2"), tone)
