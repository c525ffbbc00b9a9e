"""Place, encode, respond: rendered chunks -> a JSON body with word timestamps, a streamed file,
or a stream of NDJSON events (each chunk's audio with its words).

Each chunk is placed on the request's timeline (engine.speech.Timeline: its words get absolute
times) and encoded (engine.audio), then either gathered into one TTSResponse or sent at once.
"""

import base64
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from engine.audio import STREAM_ENCODERS, encode_whole
from engine.speech import Timeline, WordTiming
from engine.synthesis import Rendered
from engine.text import Chunk
from schemas import StreamChunkEvent, StreamDoneEvent, TTSRequest, TTSResponse, WordTimestamp

from .metrics import AUDIO_SECONDS

Spoken = AsyncIterator[tuple[Chunk, Rendered]]
#: streamed bodies must leave as they are made: no proxy buffering (nginx), no caching
NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def json_response(spoken: Spoken, request: TTSRequest) -> JSONResponse:
    timeline = Timeline()
    pieces, words = [], []
    async for chunk, rendered in spoken:
        placed = timeline.add(chunk, rendered)
        pieces.append(placed.pcm16)
        words.extend(placed.words)
    audio = encode_whole(np.concatenate(pieces), request.format)
    AUDIO_SECONDS.inc(timeline.duration_s)
    body = TTSResponse(
        audio=base64.b64encode(audio).decode("ascii"),
        audio_format=request.format,
        word_timestamps=word_timestamps(words),
        total_duration=round(timeline.duration_s, 3),
        voice=request.voice,
        speed=request.speed,
        text=request.text,
    )
    return JSONResponse(body.model_dump())


def word_timestamps(words: list[WordTiming]) -> list[WordTimestamp]:
    return [
        WordTimestamp(word=w.word, start_time=w.start_s, end_time=w.end_s, phonemes=w.phonemes, whitespace=w.whitespace)
        for w in words
    ]


class ClosingStream(StreamingResponse):
    """A streamed response that lets go of what its request held once it ends, however it ends:
    complete, cut by a client that left, or never started."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], Awaitable[object]], **kwargs):
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.on_close()


#: builds a streamed response from a request's chunks; `on_close` lets go of what the request holds
Streamer = Callable[[Spoken, TTSRequest, Callable[[], Awaitable[object]]], Awaitable[ClosingStream]]


@dataclass(frozen=True)
class EncodedPiece:
    """The next piece of the encoded file: a chunk's audio and its words (times from the start of
    the whole audio), or, last, the encoder's closing bytes with no words."""

    audio: bytes
    words: list[WordTiming]
    end_s: float  # seconds of audio up to the end of this piece
    last: bool = False


async def encoded_pieces(spoken: Spoken, audio_format: str) -> AsyncGenerator[EncodedPiece]:
    """A piece per chunk, then the encoder's flush; joined, the pieces are one file. The first
    chunk is rendered before this returns, so that a failure there is still a clean error rather
    than a 200 with a cut body."""
    first = await anext(spoken)
    encoder = STREAM_ENCODERS[audio_format]()
    timeline = Timeline()

    def piece(chunk: Chunk, rendered: Rendered) -> EncodedPiece:
        placed = timeline.add(chunk, rendered)
        return EncodedPiece(encoder.encode(placed.pcm16), placed.words, timeline.duration_s)

    async def pieces() -> AsyncGenerator[EncodedPiece]:
        try:
            yield piece(*first)
            async for chunk, rendered in spoken:
                yield piece(chunk, rendered)
            yield EncodedPiece(encoder.flush(), [], timeline.duration_s, last=True)
        finally:
            AUDIO_SECONDS.inc(timeline.duration_s)

    return pieces()


async def stream_response(
    spoken: Spoken, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """The audio file as it is rendered, with the seed's headers."""
    pieces = await encoded_pieces(spoken, request.format)
    headers = {
        "X-Voice": request.voice,
        "X-Speed": str(request.speed),
        "X-Text-Length": str(len(request.text)),
        "X-Include-Timestamps": "false",
        **NO_BUFFERING,
    }

    async def body() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                yield piece.audio

    return ClosingStream(body(), on_close, media_type=STREAM_ENCODERS[request.format].media_type, headers=headers)


async def ndjson_response(
    spoken: Spoken, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """POST /tts/stream: a `chunk` event per chunk as soon as it is rendered, its audio and words,
    then `done`, which carries the encoder's closing bytes; joined in order, the events' audio is
    the same file /tts/ streams (for wav: the first chunk's audio starts with the WAV header)."""
    pieces = await encoded_pieces(spoken, request.format)

    async def events() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                audio = base64.b64encode(piece.audio).decode("ascii")
                if piece.last:
                    event = StreamDoneEvent(audio=audio, total_duration=round(piece.end_s, 3))
                else:
                    event = StreamChunkEvent(audio=audio, words=word_timestamps(piece.words))
                yield event.model_dump_json().encode() + b"\n"

    return ClosingStream(events(), on_close, media_type="application/x-ndjson", headers=dict(NO_BUFFERING))
