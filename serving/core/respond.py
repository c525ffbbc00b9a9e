"""Respond: rendered chunks -> a JSON body with word timestamps, a streamed file, a stream of
NDJSON events (each chunk's audio with its words), or OpenAI's Server-Sent Events.

Each chunk is placed on the request's timeline (engine.speech.Timeline: its words get absolute
times) and encoded (engine.audio), then either gathered into one TTSResponse or sent at once.
Encoding, base64 and JSON run in worker threads: for a long text they take seconds, and on the
event loop they would stall every other request and the health probe: in these framings the loop
only moves bytes. (A WebSocket context's messages are base64-encoded and JSON-dumped on the loop,
each at most serving.cartesia.context.MAX_MESSAGE_AUDIO_BYTES of audio.)

A fault after the first byte is never a clean end: the NDJSON stream ends with an `error` event,
other framings (OpenAI's SSE) with their own, and a streamed audio file is aborted, so that the
client sees an incomplete body. Each is counted (tts_streams_failed_total) and logged with the
request id and the chunk.
"""

import base64
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import numpy as np
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from engine.audio import STREAM_ENCODERS, encode_whole
from engine.captions import CAPTION_WRITERS, caption_cues
from engine.speech import PlacedChunk, Timeline, WordTiming
from engine.synthesis import ChunkAudio
from engine.text import Chunk
from schemas import (
    OpenAIErrorDetail,
    SpeechAudioDelta,
    SpeechAudioDone,
    SpeechError,
    SpeechUsage,
    StreamChunkEvent,
    StreamDoneEvent,
    StreamErrorEvent,
    TTSRequest,
    TTSResponse,
    WordTimestamp,
)

from . import request_id
from .errors import ApiError, StreamAborted
from .metrics import AUDIO_SECONDS, STREAMS_FAILED

log = logging.getLogger("kokoro_tts")
#: a request's chunks with their audio, in speaking order
RenderedChunks = AsyncIterator[tuple[Chunk, ChunkAudio]]
#: streamed bodies must leave as they are made: no proxy buffering (nginx), no caching
NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def json_response(rendered: RenderedChunks, request: TTSRequest) -> Response:
    timeline = Timeline()
    placed = [timeline.add(chunk, audio) async for chunk, audio in rendered]
    AUDIO_SECONDS.inc(timeline.duration_s)
    body = await anyio.to_thread.run_sync(_json_body, placed, timeline.duration_s, request)
    return Response(body, media_type="application/json")


def _json_body(placed: list[PlacedChunk], duration_s: float, request: TTSRequest) -> bytes:
    audio = encode_whole(np.concatenate([chunk.samples for chunk in placed]), request.format)
    words = [word for chunk in placed for word in chunk.words]
    body = TTSResponse(
        audio=base64.b64encode(audio).decode("ascii"),
        audio_format=request.format,
        word_timestamps=word_timestamps(words),
        total_duration=round(duration_s, 3),
        voice=request.voice,
        speed=request.speed,
        text=request.text,
        captions=CAPTION_WRITERS[request.captions](caption_cues(words)) if request.captions else None,
    )
    # a client that asked for no captions gets the answer the Kokoro TTS API gives, without the field
    return body.model_dump_json(exclude=None if request.captions else {"captions"}).encode()


def word_timestamps(words: list[WordTiming]) -> list[WordTimestamp]:
    return [
        WordTimestamp(word=w.word, start_time=w.start_s, end_time=w.end_s, phonemes=w.phonemes, whitespace=w.whitespace)
        for w in words
    ]


class ClosingStream(StreamingResponse):
    """A streamed response that lets go of what its request held once it ends, however it ends:
    complete, cut by a client that left, failed, or never started."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], Awaitable[object]], **kwargs):
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.on_close()


#: builds a streamed response from a request's chunks; `on_close` lets go of what the request holds
Streamer = Callable[[RenderedChunks, TTSRequest, Callable[[], Awaitable[object]]], Awaitable[ClosingStream]]


@dataclass(frozen=True)
class EncodedPiece:
    """The next piece of the encoded file: a chunk's audio and its words (times from the start of
    the whole audio), or, last, the encoder's closing bytes with no words."""

    audio: bytes
    words: list[WordTiming]
    end_s: float  # seconds of audio up to the end of this piece
    last: bool = False


@dataclass(frozen=True)
class Framing:
    """How a streamed response carries its pieces: `frame` turns each into the bytes sent (in a
    worker thread), `failure` into the last bytes sent after a fault, or None to abort the body."""

    name: str
    frame: Callable[[EncodedPiece], bytes]
    failure: Callable[[str], bytes] | None


async def framed_stream(
    rendered: RenderedChunks,
    request: TTSRequest,
    on_close: Callable[[], Awaitable[object]],
    framing: Framing,
    **response: object,
) -> ClosingStream:
    """A streamed response of `rendered`'s pieces in `framing`. The first chunk is rendered before
    this returns, so that a failure there is still a clean error rather than a 200 with a cut body."""
    pieces = await _framed_pieces(rendered, request.format, framing.frame)

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        async with contextlib.aclosing(pieces):
            try:
                async for data in pieces:
                    yield data
                    sent += 1
            except Exception as exc:
                STREAMS_FAILED.labels(framing.name).inc()
                log.error(
                    "request %s failed after %d chunks were sent (%s)",
                    request_id.current(), sent, framing.name, exc_info=exc,
                )  # fmt: skip
                if framing.failure is None:
                    raise StreamAborted(f"request {request_id.current()}: the stream is cut") from exc
                yield framing.failure(_failure_message(exc, sent))

    return ClosingStream(body(), on_close, **response)


def _failure_message(exc: Exception, sent: int) -> str:
    why = exc.message if isinstance(exc, ApiError) else "synthesis failed"
    return f"{why} after {sent} chunks; the audio sent is incomplete (request id {request_id.current()})"


async def _framed_pieces(
    rendered: RenderedChunks, audio_format: str, frame: Callable[[EncodedPiece], bytes]
) -> AsyncGenerator[bytes]:
    """A framed piece per chunk, then the encoder's flush; joined, the pieces' audio is one file.
    Waits for the first chunk before it returns."""
    first = await anext(rendered)
    encoder = STREAM_ENCODERS[audio_format]()
    timeline = Timeline()

    def framed(chunk: Chunk, audio: ChunkAudio) -> bytes:
        placed = timeline.add(chunk, audio)
        return frame(EncodedPiece(encoder.encode(placed.samples), placed.words, timeline.duration_s))

    def closing() -> bytes:
        return frame(EncodedPiece(encoder.flush(), [], timeline.duration_s, last=True))

    async def pieces() -> AsyncGenerator[bytes]:
        try:
            yield await anyio.to_thread.run_sync(framed, *first)
            async for chunk, audio in rendered:
                yield await anyio.to_thread.run_sync(framed, chunk, audio)
            yield await anyio.to_thread.run_sync(closing)
        finally:
            AUDIO_SECONDS.inc(timeline.duration_s)

    return pieces()


async def stream_response(
    rendered: RenderedChunks, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """The audio file as it is rendered, with the Kokoro TTS API's headers; aborted on a later fault."""
    headers = {
        "X-Voice": request.voice,
        "X-Speed": str(request.speed),
        "X-Text-Length": str(len(request.text)),
        "X-Include-Timestamps": "false",
        **NO_BUFFERING,
    }
    framing = Framing("audio", lambda piece: piece.audio, failure=None)
    media_type = STREAM_ENCODERS[request.format].media_type
    return await framed_stream(rendered, request, on_close, framing, media_type=media_type, headers=headers)


def _ndjson_line(piece: EncodedPiece) -> bytes:
    audio = base64.b64encode(piece.audio).decode("ascii")
    if piece.last:
        event: StreamChunkEvent | StreamDoneEvent = StreamDoneEvent(audio=audio, total_duration=round(piece.end_s, 3))
    else:
        event = StreamChunkEvent(audio=audio, words=word_timestamps(piece.words))
    return event.model_dump_json().encode() + b"\n"


NDJSON = Framing(
    "ndjson", _ndjson_line, failure=lambda message: StreamErrorEvent(error=message).model_dump_json().encode() + b"\n"
)


async def ndjson_response(
    rendered: RenderedChunks, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """POST /tts/stream: a `chunk` event per chunk as soon as it is rendered, its audio and words,
    then `done`, which carries the encoder's closing bytes; joined in order, the events' audio is
    the same file /tts/ streams (for wav: the first chunk's audio starts with the WAV header). A
    later fault ends it with an `error` event instead of `done`."""
    return await framed_stream(
        rendered, request, on_close, NDJSON, media_type="application/x-ndjson", headers=dict(NO_BUFFERING)
    )


async def sse_response(
    rendered: RenderedChunks, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """Server-Sent Events as OpenAI sends them: a `speech.audio.delta` per encoded piece (joined,
    they are the same file as the streamed audio), then one `speech.audio.done`; a later fault
    ends it with an `error` event carrying OpenAI's error object."""
    chars = len(request.text)

    def frame(piece: EncodedPiece) -> bytes:
        delta = sse_event(SpeechAudioDelta(audio=base64.b64encode(piece.audio).decode("ascii"))) if piece.audio else b""
        if not piece.last:
            return delta
        return delta + sse_event(SpeechAudioDone(usage=SpeechUsage(input_tokens=chars, total_tokens=chars)))

    framing = Framing("sse", frame, failure=sse_failure)
    return await framed_stream(
        rendered, request, on_close, framing, media_type="text/event-stream", headers=dict(NO_BUFFERING)
    )


def sse_failure(message: str) -> bytes:
    error = SpeechError(error=OpenAIErrorDetail(message=message, type="server_error"))
    return b"event: error\n" + sse_event(error)


def sse_event(event: BaseModel) -> bytes:
    return b"data: " + event.model_dump_json().encode() + b"\n\n"
