"""Place, encode, respond: rendered chunks -> a JSON body with word timestamps, or a streamed file.

Each chunk is placed on the request's timeline (engine.speech.Timeline: its words get absolute
times) and encoded (engine.audio), then either gathered into one TTSResponse or sent at once.
"""

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from engine.audio import STREAM_ENCODERS, encode_whole
from engine.speech import Timeline
from engine.synthesis import Rendered
from engine.text import Chunk
from schemas import TTSRequest, TTSResponse, WordTimestamp

from .metrics import AUDIO_SECONDS

Spoken = AsyncIterator[tuple[Chunk, Rendered]]


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
        word_timestamps=[
            WordTimestamp(
                word=w.word, start_time=w.start_s, end_time=w.end_s, phonemes=w.phonemes, whitespace=w.whitespace
            )
            for w in words
        ],
        total_duration=round(timeline.duration_s, 3),
        voice=request.voice,
        speed=request.speed,
        text=request.text,
    )
    return JSONResponse(body.model_dump())


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


async def stream_response(
    spoken: Spoken, request: TTSRequest, on_close: Callable[[], Awaitable[object]]
) -> ClosingStream:
    """The audio as it is rendered. The first chunk is rendered before the response starts, so
    that a failure there is still a clean error rather than a 200 with a cut body."""
    first = await anext(spoken)
    encoder = STREAM_ENCODERS[request.format]()
    timeline = Timeline()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield encoder.encode(timeline.add(*first).pcm16)
            async for chunk, rendered in spoken:
                yield encoder.encode(timeline.add(chunk, rendered).pcm16)
            yield encoder.flush()
        finally:
            AUDIO_SECONDS.inc(timeline.duration_s)

    headers = {
        "X-Voice": request.voice,
        "X-Speed": str(request.speed),
        "X-Text-Length": str(len(request.text)),
        "X-Include-Timestamps": "false",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    }
    return ClosingStream(body(), on_close, media_type=encoder.media_type, headers=headers)
