"""POST /tts/bytes: one transcript's audio in Cartesia's output formats."""

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS
from schemas import TTSRequest

from ..core.errors import BadRequest
from ..core.lifecycle import TTSServer
from ..core.request import read_fields
from ..core.respond import NO_BUFFERING, EncodedPiece, Framing, Release, ReleasingStream, RenderedChunks, framed_stream
from .messages import BytesRequest
from .resample import AudioOut


async def bytes_route(http_request: Request, server: TTSServer) -> Response:
    """POST /tts/bytes: the transcript's audio, streamed as it is rendered."""
    request = await read_fields(http_request, BytesRequest, server.max_body)
    output = request.output_format
    if output.container != "raw" and output.sample_rate != SAMPLE_RATE:
        raise BadRequest(f"a {output.container} file is {SAMPLE_RATE} Hz; for {output.sample_rate} Hz ask for raw")
    speech = TTSRequest(
        text=request.transcript,
        voice=request.voice.id,
        speed=request.generation_config.speed,
        format="pcm" if output.container == "raw" else output.container,
        include_timestamps=False,
    )
    audio = AudioOut(output)

    def frame(piece: EncodedPiece) -> bytes:
        if output.container != "raw":
            return piece.audio
        return audio.convert(np.frombuffer(piece.audio, dtype="<i2"), last=piece.last)

    async def streamer(rendered: RenderedChunks, tts: TTSRequest, release: Release) -> ReleasingStream:
        media_type = "application/octet-stream" if output.container == "raw" else STREAM_ENCODERS[tts.format].media_type
        framing = Framing("cartesia-bytes", frame, failure=None)
        return await framed_stream(rendered, tts, release, framing, media_type=media_type, headers=dict(NO_BUFFERING))

    return await server.answer(http_request, speech, streamer, played_as_sent=False)
