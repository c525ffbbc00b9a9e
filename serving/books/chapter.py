"""One chapter: its text -> chunks through the later lane, at the lowest priority -> its audio file
and captions in the store.

A chapter's chunks go through the core's later lane (the bulk synthesizer on CPU, the batched
one on CUDA) and its fair queue, but never through admission: a book is not a request waiting for
an answer, and its millions of characters must not make /tts/ answer 429. Each chunk is due
BOOK_DELAY_S later than its audio would be needed by a listener, so every interactive request's
chunks, due within seconds, go first, and a book waits for at most one chunk already in the model.

The audio is placed on a timeline (engine.speech.Timeline: lead silence trimmed, words timed) and
encoded as each chunk comes, into a file on this machine's disk; the chapter's words are kept
for its captions. Then the files go into the store, the chapter's record (NNN.json) last: a
chapter is done once that is there.
"""

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import IO

import anyio
import numpy as np

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS, Encoder, FlacEncoder, Mp3Encoder, wav_header
from engine.captions import caption_cues, srt_text, vtt_text
from engine.speech import Timeline
from engine.synthesis import ChunkAudio, ChunkJob
from engine.timing import WordTiming
from schemas import SynthesizerStatus, TTSRequest
from serving.core.lanes import SynthesizerClient
from serving.core.lifecycle import TTSServer
from serving.core.plan import ChunkPlan
from serving.core.synthesize import rendered_chunks

from .schemas import BookRequest
from .store import BookStore, chapter_name

#: how much later than a listener would need it a book's chunk is due: a day, so that the chunks
#: of every request a person waits for (due within seconds) go before it in the fair queue
BOOK_DELAY_S = 86_400.0
WAV_HEADER_BYTES = 44
#: a chapter's words with their times, beside its captions
WORDS_SUFFIX = "words.json"


@dataclass(frozen=True)
class ChapterRecord:
    """A finished chapter, as its NNN.json holds it."""

    number: int
    title: str
    duration_s: float
    words: int
    chars: int
    audio: str
    srt: str
    vtt: str
    timestamps: str


#: called after each chunk with the characters of text it spoke and the seconds of audio it made;
#: raises to stop the chapter (a cancelled job) there
ChunkDone = Callable[[int, float], Awaitable[None]]


class Stopped(Exception):
    """The run was told to stop: its job was cancelled, or its replica is shutting down."""


@dataclass(frozen=True)
class StoppableSynthesizer:
    """A lane's synthesizer that sends no chunk once its job is told to stop: the chunk asked for
    one ahead gets the lane's slot as the chunk before it comes back, before the job sees that
    one and stops; it is then refused here rather than rendered for no one."""

    synthesizer: SynthesizerClient
    stop_reason: Callable[[], str | None]

    async def synthesize(self, jobs: list[ChunkJob]) -> list[ChunkAudio]:
        if reason := self.stop_reason():
            raise Stopped(reason)
        return await self.synthesizer.synthesize(jobs)

    async def status(self) -> SynthesizerStatus:
        return await self.synthesizer.status()


async def make_chapter(
    server: TTSServer,
    store: BookStore,
    job_id: str,
    index: int,
    title: str,
    text: str,
    request: BookRequest,
    language: str,
    audio_before_s: float,
    chunk_done: ChunkDone,
    stop_reason: Callable[[], str | None],
) -> ChapterRecord:
    """Renders chapter `index` (from 0) into the store and returns its record. `audio_before_s`:
    the audio the job made before it, so that its chunks are due after the chapters before it."""
    speech = TTSRequest(text=text, voice=request.voice, speed=request.speed, format=request.format)
    plan = ChunkPlan(server.planner.chunks(text, language))
    later = server.later_lane
    lane = dataclasses.replace(later, synthesizer=StoppableSynthesizer(later.synthesizer, stop_reason))
    began = anyio.current_time()
    chunks = rendered_chunks(plan, speech, lane, lane, began=began, sent_s=BOOK_DELAY_S + audio_before_s)
    timeline = Timeline()
    words: list[WordTiming] = []
    encoder = _encoder(request.format)
    handle, local = tempfile.mkstemp(prefix="kokoro-chapter-", suffix=f".{request.format}")
    try:
        with os.fdopen(handle, "wb") as file:
            async with contextlib.aclosing(chunks):
                async for chunk, audio in chunks:
                    placed = timeline.add(chunk, audio)
                    words.extend(placed.words)
                    await anyio.to_thread.run_sync(_encoded, file, encoder, placed.samples)
                    spoken = len(chunk.text) if audio.frames_from == 0 else 0  # a chunk's text counts once
                    await chunk_done(spoken, placed.samples.shape[0] / SAMPLE_RATE)
            await anyio.to_thread.run_sync(_encoded, file, encoder, None)
        if request.format == "wav":
            _fill_wav_sizes(local)
        record = ChapterRecord(
            number=index + 1,
            title=title,
            duration_s=round(timeline.duration_s, 3),
            words=len(words),
            chars=len(text),
            audio=chapter_name(index, request.format),
            srt=chapter_name(index, "srt"),
            vtt=chapter_name(index, "vtt"),
            timestamps=chapter_name(index, WORDS_SUFFIX),
        )
        await anyio.to_thread.run_sync(_store_chapter, store, job_id, index, record, local, words)
        return record
    finally:
        os.unlink(local)


def _encoder(audio_format: str) -> Encoder:
    """A streaming encoder, but for FLAC and MP3 one that writes into a seekable buffer: FLAC's
    header gets the length, MP3's LAME header the encoder's delay and padding, so that a player
    (and the whole book made from the chapter files) cuts them, and the captions line up with
    the audio to the sample. An MP3 holds a megabyte a minute: the chapter's encoded file in
    memory until it is done, never its samples."""
    encoder_class = STREAM_ENCODERS[audio_format]
    return encoder_class(whole=True) if encoder_class in (FlacEncoder, Mp3Encoder) else encoder_class()


def _encoded(file: IO[bytes], encoder: Encoder, samples: np.ndarray | None) -> None:
    """`samples` encoded onto the end of `file` (None: the encoder's closing bytes)."""
    file.write(encoder.flush() if samples is None else encoder.encode(samples))


def _fill_wav_sizes(path: str) -> None:
    """A streamed WAV's header says "length unknown": the stored file says its length."""
    data_bytes = os.path.getsize(path) - WAV_HEADER_BYTES
    with open(path, "r+b") as file:
        file.write(wav_header(data_bytes))


def _store_chapter(
    store: BookStore, job_id: str, index: int, record: ChapterRecord, local: str, words: list[WordTiming]
) -> None:
    cues = caption_cues(words)
    store.write_bytes(job_id, record.srt, srt_text(cues).encode())
    store.write_bytes(job_id, record.vtt, vtt_text(cues).encode())
    timed = [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s, "whitespace": w.whitespace} for w in words]
    store.write_json(job_id, record.timestamps, timed)
    store.put_file(job_id, record.audio, local)
    store.write_json(job_id, chapter_name(index, "json"), asdict(record))


def chapter_record(store: BookStore, job_id: str, index: int) -> ChapterRecord | None:
    """Chapter `index`'s record if it is done, else None."""
    record = store.read_json(job_id, chapter_name(index, "json"))
    return None if record is None else ChapterRecord(**record)
