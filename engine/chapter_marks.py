"""One whole file with chapter marks: chapters' audio, streamed, into one MP3 whose ID3v2 tag
holds a CHAP frame per chapter and a CTOC listing them (the ID3v2 Chapter Frame Addendum, which
podcast and audiobook players read, and ffprobe lists as chapters); and a stored chapter file
decoded back to PCM16, so the whole file can be made again from the chapter files alone.

The MP3 is written to its path by FFmpeg (PyAV) rather than through a stream: on a seekable file
the muxer ends with a LAME header giving the encoder's delay and padding, so players cut them and
the decoded audio starts where the first chapter does, and chapter times are exact.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from mutagen.id3 import CHAP, CTOC, ID3, TIT2, CTOCFlags

from .audio import SAMPLE_RATE, Mp3Encoder, _check_pcm16

#: CHAP's byte offsets are not given: 0xFFFFFFFF tells a player to use the times
_NO_OFFSET = 0xFFFFFFFF
_UTF8 = 3
#: a CTOC's entry count is one byte
_MAX_TOC_ENTRIES = 255


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_s: float
    end_s: float


def write_chaptered_mp3(
    chapters: Iterable[tuple[str, Iterable[np.ndarray]]], path: Path, title: str | None = None
) -> list[ChapterMark]:
    """Each (title, PCM16 pieces) chapter's audio, one after another, into the MP3 at `path`, marked
    by its title and its start and end; `title` is the whole file's. Only one piece is held at once."""
    samples_written = 0
    spans: list[tuple[str, int, int]] = []
    with av.open(str(path), mode="w", format=Mp3Encoder.container_format) as container:
        stream = container.add_stream(Mp3Encoder.codec, rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = Mp3Encoder.bit_rate
        for chapter_title, pieces in chapters:
            start = samples_written
            for pcm16 in pieces:
                _check_pcm16(pcm16)
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm16, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = samples_written
                samples_written += len(pcm16)
                container.mux(stream.encode(frame))
            spans.append((chapter_title, start, samples_written))
        container.mux(stream.encode(None))
    _tag_chapters(path, spans, title)
    return [ChapterMark(name, start / SAMPLE_RATE, end / SAMPLE_RATE) for name, start, end in spans]


def _tag_chapters(path: Path, spans: list[tuple[str, int, int]], title: str | None) -> None:
    """The chapters as CHAP frames, listed by a table of contents: one CTOC of them all, or, past
    the 255 entries a CTOC may list, a top-level CTOC of CTOCs of 255 chapters each."""
    if len(spans) > _MAX_TOC_ENTRIES**2:
        raise ValueError(f"{len(spans)} chapters; an ID3 table of contents lists at most {_MAX_TOC_ENTRIES**2}")
    tag = ID3()
    chapter_ids = [f"chapter{n:05d}" for n in range(1, len(spans) + 1)]
    if len(chapter_ids) <= _MAX_TOC_ENTRIES:
        tag.add(_table_of_contents("toc", chapter_ids, top_level=True))
    else:
        groups = [chapter_ids[n : n + _MAX_TOC_ENTRIES] for n in range(0, len(chapter_ids), _MAX_TOC_ENTRIES)]
        group_ids = [f"toc{n:03d}" for n in range(1, len(groups) + 1)]
        tag.add(_table_of_contents("toc", group_ids, top_level=True))
        for group_id, group in zip(group_ids, groups, strict=True):
            tag.add(_table_of_contents(group_id, group, top_level=False))
    for element_id, (name, start, end) in zip(chapter_ids, spans, strict=True):
        tag.add(
            CHAP(
                element_id=element_id,
                start_time=_milliseconds(start),
                end_time=_milliseconds(end),
                start_offset=_NO_OFFSET,
                end_offset=_NO_OFFSET,
                sub_frames=[TIT2(encoding=_UTF8, text=[name])],
            )
        )
    if title is not None:
        tag.add(TIT2(encoding=_UTF8, text=[title]))
    tag.save(path, v2_version=4)
    _put_chapters_in_order(path)


def _table_of_contents(element_id: str, children: list[str], top_level: bool) -> CTOC:
    flags = CTOCFlags.ORDERED | (CTOCFlags.TOP_LEVEL if top_level else 0)
    return CTOC(element_id=element_id, flags=flags, child_element_ids=children, sub_frames=[])


def _put_chapters_in_order(path: Path) -> None:
    """mutagen writes a tag's frames smallest first; FFmpeg lists CHAP frames in the order the tag
    holds them, so they are put back in chapter order (their element ids sort so), in place: the
    same frames in another order take the same bytes. An ID3v2.4 tag is a 10-byte header, then
    frames of a 10-byte header (their size in bytes 4 to 8, 7 bits a byte) and their data, then
    zeros."""
    with path.open("r+b") as file:
        header = file.read(10)
        body = file.read(_syncsafe(header[6:10]))
        frames = []
        position = 0
        while position + 10 <= len(body) and body[position] != 0:
            end = position + 10 + _syncsafe(body[position + 4 : position + 8])
            frames.append(body[position:end])
            position = end
        frames.sort(key=_frame_order)
        file.seek(10)
        file.write(b"".join(frames))


def _frame_order(frame: bytes) -> tuple[bool, bytes]:
    """Other frames first, as they were; then CHAP frames by their element id."""
    is_chapter = frame[:4] == b"CHAP"
    return is_chapter, frame[10 : frame.index(b"\0", 10)] if is_chapter else b""


def _syncsafe(four_bytes: bytes) -> int:
    return sum((byte & 0x7F) << (7 * (3 - n)) for n, byte in enumerate(four_bytes))


def _milliseconds(samples: int) -> int:
    return round(samples * 1000 / SAMPLE_RATE)


def decoded_pcm16(path: Path) -> Iterator[np.ndarray]:
    """The audio file at `path` (as engine/audio.py encodes: wav, mp3, aac, opus, flac) as int16
    24 kHz mono pieces, one per decoded frame; Opus, which decoders play at 48 kHz, is resampled."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            for resampled in resampler.resample(frame):
                yield resampled.to_ndarray().reshape(-1)
        for resampled in resampler.resample(None):
            yield resampled.to_ndarray().reshape(-1)
