"""Audio: the model's float samples -> PCM16 once, then PCM16 -> wav, mp3, aac, opus, flac or pcm bytes.

PCM16 (int16, 24 kHz mono) is the one shape audio has from the model's output to the encoder:
`to_pcm16` is the only float -> int16 step (the engine calls it right after the model), and
encoders take int16 arrays only. Encoders keep their state behind `encode(pcm16) -> bytes` and
`flush() -> bytes`, so the same code serves the JSON response (everything, then flush) and the
streamed one (a piece per chunk). mp3, aac, opus and flac go through FFmpeg's encoders by way
of PyAV; pcm is the samples themselves, little-endian, with no header.
"""

import io
import struct
from typing import ClassVar

import av
import numpy as np

SAMPLE_RATE = 24_000
#: A streamed WAV's length is unknown when its header leaves: the RIFF and data sizes are set to
#: the largest value, which browsers, ffmpeg and libsndfile read as "until the end of the stream".
UNKNOWN_SIZE = 0xFFFFFFFF


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> int16, rounded to the nearest step; louder samples are clipped."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def _check_pcm16(pcm16: np.ndarray) -> None:
    """Encoders take PCM16 only: a float array would be truncated to silence without a word."""
    if pcm16.dtype.kind != "i" or pcm16.dtype.itemsize != 2 or pcm16.ndim != 1:  # int16, either byte order
        raise TypeError(
            f"expected 1-D int16 PCM, got {pcm16.ndim}-D {pcm16.dtype}; convert float samples with to_pcm16 first"
        )


def wav_header(data_bytes: int | None) -> bytes:
    """A 44-byte PCM16 mono header; `None` for a stream whose length is not yet known."""
    data_size = UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff_size = UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
        + b"data" + struct.pack("<I", data_size)
    )  # fmt: skip


class Encoder:
    """Base of the streaming encoders; `media_type` is the response's Content-Type."""

    media_type: ClassVar[str]

    def encode(self, pcm16: np.ndarray) -> bytes:
        """The next piece of the stream for `pcm16`, 1-D int16 24 kHz mono samples."""
        raise NotImplementedError

    def flush(self) -> bytes:
        raise NotImplementedError


class PcmEncoder(Encoder):
    """Raw 16-bit little-endian 24 kHz mono, no header: what OpenAI's `pcm` format is. Sent as
    application/octet-stream, since audio/pcm is no registered type and audio/L16 is big-endian."""

    media_type = "application/octet-stream"

    def encode(self, pcm16: np.ndarray) -> bytes:
        _check_pcm16(pcm16)
        return pcm16.astype("<i2").tobytes()

    def flush(self) -> bytes:
        return b""


class StreamingWavEncoder(PcmEncoder):
    """The raw samples behind a WAV header whose length is not known yet."""

    media_type = "audio/wav"

    def __init__(self) -> None:
        self._header_sent = False

    def encode(self, pcm16: np.ndarray) -> bytes:
        header = b"" if self._header_sent else wav_header(None)
        self._header_sent = True
        return header + super().encode(pcm16)

    def flush(self) -> bytes:
        return b"" if self._header_sent else wav_header(None)


class _Sink(io.RawIOBase):
    """A write-only file that hands over what the muxer has written so far."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._pending += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._pending)
        self._pending.clear()
        return data


class _FFmpegEncoder(Encoder):
    container_format: ClassVar[str]
    codec: ClassVar[str]
    bit_rate: ClassVar[int | None] = None
    #: the muxer's options (FFmpeg's names), e.g. to send Ogg pages as they fill
    container_options: ClassVar[dict[str, str]] = {}

    def __init__(self, whole: bool = False) -> None:
        """`whole`: write into a seekable buffer and hand it all over at `flush`, so that a muxer
        that goes back to fill in the length (FLAC's STREAMINFO) can do so."""
        self._sink: _Sink | io.BytesIO = io.BytesIO() if whole else _Sink()
        self._container = av.open(self._sink, mode="w", format=self.container_format, options=self.container_options)
        self._stream = self._container.add_stream(self.codec, rate=SAMPLE_RATE, layout="mono")
        if self.bit_rate is not None:
            self._stream.bit_rate = self.bit_rate
        self._samples_in = 0

    def encode(self, pcm16: np.ndarray) -> bytes:
        _check_pcm16(pcm16)
        # packed s16 mono: one plane of [1, samples], in the machine's byte order
        planes = np.ascontiguousarray(pcm16, dtype=np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(planes, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples_in
        self._samples_in += planes.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._take()

    def flush(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.getvalue() if isinstance(self._sink, io.BytesIO) else self._sink.take()

    def _take(self) -> bytes:
        return b"" if isinstance(self._sink, io.BytesIO) else self._sink.take()


class Mp3Encoder(_FFmpegEncoder):
    media_type = "audio/mpeg"
    container_format = "mp3"
    codec = "libmp3lame"
    bit_rate = 128_000


class AacEncoder(_FFmpegEncoder):
    """AAC in ADTS framing: playable and decodable as it arrives, no seekable container needed."""

    media_type = "audio/aac"
    container_format = "adts"
    codec = "aac"
    bit_rate = 96_000


class OpusEncoder(_FFmpegEncoder):
    """Opus in Ogg (RFC 7845), so audio/ogg. libopus takes 24 kHz as it is (its rates are 8, 12,
    16, 24 and 48 kHz), so nothing is resampled; decoders play it at 48 kHz, as Opus always does."""

    media_type = "audio/ogg"
    container_format = "ogg"
    codec = "libopus"
    bit_rate = 48_000
    # a page per 20 ms Opus packet, written out at once: the muxer otherwise holds a second back
    container_options = {"page_duration": "20000", "flush_packets": "1"}


class FlacEncoder(_FFmpegEncoder):
    """Lossless. A streamed FLAC's STREAMINFO says "length unknown" (FFmpeg and browsers read it;
    libsndfile wants the length, which the whole file from `encode_whole` carries)."""

    media_type = "audio/flac"
    container_format = "flac"
    codec = "flac"


STREAM_ENCODERS: dict[str, type[Encoder]] = {
    "wav": StreamingWavEncoder,
    "mp3": Mp3Encoder,
    "aac": AacEncoder,
    "opus": OpusEncoder,
    "flac": FlacEncoder,
    "pcm": PcmEncoder,
}
FORMATS = tuple(STREAM_ENCODERS)


def encode_whole(pcm16: np.ndarray, audio_format: str) -> bytes:
    """A complete file from 1-D int16 samples: a WAV with its exact length in the header, raw
    pcm, or a whole compressed file (a FLAC with its length in its STREAMINFO)."""
    _check_pcm16(pcm16)
    if audio_format == "wav":
        data = PcmEncoder().encode(pcm16)
        return wav_header(len(data)) + data
    encoder_class = STREAM_ENCODERS[audio_format]
    encoder = encoder_class(whole=True) if issubclass(encoder_class, _FFmpegEncoder) else encoder_class()
    return encoder.encode(pcm16) + encoder.flush()
