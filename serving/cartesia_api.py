"""Cartesia's TTS protocol: its WebSocket on /tts/websocket and its bytes route on POST
/tts/bytes, so that voice-agent frameworks' Cartesia clients (pipecat's CartesiaTTSService and
CartesiaHttpTTSService, LiveKit's cartesia.TTS) speak through this server as they are.

One socket carries many contexts (an agent's turns), routed by `context_id`. A context's text
arrives in pieces, as whole sentences or as an LLM's tokens (serving.gather hands out each
sentence once it is complete), and each run of sentences is spoken through the same lifecycle as
an HTTP request: validation, readiness, admission, the fair lanes, metrics. Its audio leaves as
raw PCM at the rate asked, each chunk followed by its words' timestamps (seconds from the
context's first sample, in the words the client sent); `done` follows the last audio of a context
the client ended. A `cancel`, or the socket closing, stops a context's work at once: the chunk
inside the model is the most it costs.
"""

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

import anyio
import numpy as np
import soxr
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocketState

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS
from engine.speech import MAX_SPEED, MIN_SPEED, Timeline, WordTiming
from engine.text import speakable
from schemas import TTSRequest, VoiceName

from . import request_id
from .errors import ApiError, BadRequest
from .gather import TextGatherer
from .lifecycle import TTSServer, server_of
from .metrics import AUDIO_SECONDS, RESPONSES, STREAMS_FAILED
from .request import explain, read_fields, voice_language
from .respond import NO_BUFFERING, ClosingStream, EncodedPiece, Framing, Spoken, framed_stream

log = logging.getLogger("kokoro_tts")
PATH = "/tts/websocket"
BYTES_PATH = "/tts/bytes"
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
#: how long text that stops at a sentence or clause mark waits for more before it is spoken
PAUSE_WAIT_S = 0.15
#: Cartesia's default for how long text that stops mid-clause waits for more
DEFAULT_BUFFER_DELAY_MS = 3000
#: a context whose client sends nothing for this long, with its audio all sent, ends with an error
CONTEXT_IDLE_S = 120.0
#: the raw audio one `chunk` message carries at most: its JSON stays far under 1 MiB
MAX_MESSAGE_AUDIO_BYTES = 192 * 1024
#: languages whose text writes no spaces between words: each token is a word of its own
UNSPACED_LANGUAGES = frozenset("jz")
#: WebSocket close code (RFC 6455): try again later
TRY_AGAIN_LATER = 1013
#: status of a context its client cancelled or left (nginx's "client closed request")
CLIENT_CLOSED = 499


class VoiceChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mode: Literal["id"] = "id"
    id: VoiceName = Field(description="A voice name from GET /tts/voices, or a comma-joined blend")


class OutputFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    container: Literal["raw"] = "raw"
    encoding: Literal["pcm_s16le", "pcm_f32le"] = "pcm_s16le"
    sample_rate: Literal[SAMPLE_RATES] = SAMPLE_RATE  # type: ignore[valid-type]


class GenerationConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description="Speaking rate: 1.0 is normal")


class ContextMessage(BaseModel):
    """A client's text for a context. Every message repeats the request; the first one of a
    context sets its voice, format and speed. Fields this server has no use for (`model_id`,
    `language`: the voice says the language) are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    context_id: str = Field(min_length=1)
    transcript: str = ""
    continue_: bool = Field(False, alias="continue", description="false: this is the context's last text")
    voice: VoiceChoice
    output_format: OutputFormat = OutputFormat()
    add_timestamps: bool = False
    max_buffer_delay_ms: int = Field(DEFAULT_BUFFER_DELAY_MS, ge=0, le=5000)
    generation_config: GenerationConfig = GenerationConfig()
    flush: bool = Field(False, description="speak all the text sent so far now, then send flush_done")


class BytesOutputFormat(OutputFormat):
    container: Literal["raw", "wav", "mp3"] = "raw"


class BytesRequest(BaseModel):
    """POST /tts/bytes: one transcript, answered with its audio. A wav or mp3 file is 24 kHz."""

    model_config = ConfigDict(extra="ignore")

    transcript: str = Field(min_length=1)
    voice: VoiceChoice
    output_format: BytesOutputFormat = BytesOutputFormat()
    generation_config: GenerationConfig = GenerationConfig()


class CancelMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    context_id: str
    cancel: Literal[True]


class _ServerMessage(BaseModel):
    context_id: str
    status_code: int = 206
    done: bool = False


class AudioChunk(_ServerMessage):
    type: Literal["chunk"] = "chunk"
    data: str = Field(description="base64 raw PCM in the context's output format")


class WordTimestamps(BaseModel):
    words: list[str]
    start: list[float]
    end: list[float]


class TimestampsMessage(_ServerMessage):
    type: Literal["timestamps"] = "timestamps"
    word_timestamps: WordTimestamps


class FlushDone(_ServerMessage):
    type: Literal["flush_done"] = "flush_done"
    flush_done: bool = True
    flush_id: int


class Done(_ServerMessage):
    type: Literal["done"] = "done"
    status_code: int = 200
    done: bool = True


class ErrorMessage(_ServerMessage):
    type: Literal["error"] = "error"
    done: bool = True
    error: str


def cartesia_words(words: Iterable[WordTiming], spaced: bool) -> WordTimestamps:
    """The words as the client wrote them: where the text is `spaced`, the tokens between two
    spaces are one word ('"Hello,' rather than '"', "Hello" and ","), elsewhere (Japanese,
    Chinese) each token is one, a mark joined to the token before it."""
    found: list[list] = []  # [word, start, end]
    joins = False  # the token before had no space after it
    for word in words:
        continues = joins if spaced else not speakable(word.word)  # a mark, or a piece of a long word
        if found and continues:
            found[-1][0] += word.word
            found[-1][2] = max(found[-1][2], word.end_s)
        elif word.word:
            found.append([word.word, word.start_s, word.end_s])
        joins = bool(found) and not word.whitespace
    return WordTimestamps(
        words=[w for w, _, _ in found], start=[round(s, 3) for _, s, _ in found], end=[round(e, 3) for _, _, e in found]
    )


class AudioOut:
    """A context's audio as the client asked for it: resampled as one continuous stream (soxr),
    so that chunk edges make no clicks, and written as 16-bit or float PCM."""

    def __init__(self, output: OutputFormat):
        self.output = output
        rate = output.sample_rate
        self._resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(SAMPLE_RATE, rate, 1, dtype="int16")

    def convert(self, pcm16: np.ndarray, last: bool = False) -> bytes:
        if self._resampler is not None:
            pcm16 = self._resampler.resample_chunk(pcm16, last=last)
        if self.output.encoding == "pcm_f32le":
            return (pcm16.astype("<f4") / 32768.0).tobytes()
        return pcm16.astype("<i2").tobytes()


class AgentContext:
    """One context: its text gathered into sentences, spoken in order, its audio on one timeline."""

    def __init__(self, socket: "AgentSocket", first: ContextMessage):
        self.socket = socket
        self.id = first.context_id
        self.first = first
        self.inbox: asyncio.Queue[ContextMessage] = asyncio.Queue()
        self.timeline = Timeline()
        self.audio = AudioOut(first.output_format)
        self.began: float | None = None  # loop time of the context's first audio request
        self.flushes = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Speaks the context's text as it comes, until the client ends it; then `done`."""
        request_id.assign(None)
        started = time.perf_counter()
        status = CLIENT_CLOSED
        try:
            status = await self._serve()
        except ApiError as exc:
            status = exc.status
            await self.socket.send(ErrorMessage(context_id=self.id, status_code=exc.status, error=exc.message))
        except Exception as exc:
            status = 500
            STREAMS_FAILED.labels("websocket").inc()
            log.error("context %s (request %s) failed", self.id, request_id.current(), exc_info=exc)
            error = f"synthesis failed; the audio sent is incomplete (request id {request_id.current()})"
            await self.socket.send(ErrorMessage(context_id=self.id, status_code=500, error=error))
        finally:
            AUDIO_SECONDS.inc(self.timeline.duration_s)
            RESPONSES.labels(PATH, str(status)).inc()
            self.socket.ended(self)
            log.info(
                "context %s: %d after %.3f s, %.2f s of audio (request %s)",
                self.id, status, time.perf_counter() - started, self.timeline.duration_s, request_id.current(),
            )  # fmt: skip

    async def _serve(self) -> int:
        """The context's messages in order: text gathered and spoken as `serving.gather` says,
        a flush answered once what came before it is spoken, the last message with `done`."""
        loop = asyncio.get_running_loop()
        planner = self.socket.server.planner
        voice, speed = self.first.voice.id, self.first.generation_config.speed
        language = await voice_language(planner, voice, speed)
        gatherer = TextGatherer(planner.phonemizers.get(language).sentences)
        spaced = language not in UNSPACED_LANGUAGES
        message: ContextMessage | None = self.first
        oldest = loop.time()  # when the oldest text not spoken yet arrived (about: when it was last handed out)
        while True:
            if message is not None:
                if not speakable(gatherer.pending):
                    oldest = loop.time()
                gatherer.add(message.transcript)
                if message.max_buffer_delay_ms == 0 or message.flush or not message.continue_:
                    await self._speak(gatherer.rest(), spaced)
                elif sentences := await anyio.to_thread.run_sync(gatherer.complete):
                    await self._speak(sentences, spaced)
                    oldest = loop.time()
                if message.flush:
                    self.flushes += 1
                    await self.socket.send(FlushDone(context_id=self.id, flush_id=self.flushes))
                if not message.continue_:
                    await self._send_audio(self.audio.convert(np.zeros(0, dtype=np.int16), last=True))
                    await self.socket.send(Done(context_id=self.id))
                    return 200
            if not self.inbox.empty():  # text that came while the last was spoken goes first
                message = self.inbox.get_nowait()
                continue
            if not speakable(gatherer.pending):  # a lone mark ('"') waits for the word it belongs to
                wait = CONTEXT_IDLE_S
            elif gatherer.at_pause():
                wait = PAUSE_WAIT_S
            else:
                wait = max(0.0, oldest + self.first.max_buffer_delay_ms / 1000 - loop.time())
            try:
                message = await asyncio.wait_for(self.inbox.get(), wait)
            except TimeoutError:
                if not speakable(gatherer.pending):
                    raise ContextIdle(f"no text came for {CONTEXT_IDLE_S:.0f} s; the context is closed") from None
                message = None
                await self._speak(gatherer.rest(), spaced)

    async def _speak(self, text: str, spaced: bool) -> None:
        """Speaks a run of complete sentences, continuing the context's timeline; text with
        nothing to say (a lone mark, the " " that ends a context) is skipped."""
        if not speakable(text):
            return
        if self.began is None:
            self.began = asyncio.get_running_loop().time()
        request = TTSRequest(
            text=text,
            voice=self.first.voice.id,
            speed=self.first.generation_config.speed,
            format="pcm",
            include_timestamps=False,
        )
        async with self.socket.server.spoken(request, self.began, self.timeline.duration_s) as spoken:
            async for chunk, audio in spoken:
                placed = self.timeline.add(chunk, audio)
                await self._send_audio(await anyio.to_thread.run_sync(self.audio.convert, placed.samples))
                if self.first.add_timestamps and placed.words:
                    words = cartesia_words(placed.words, spaced)
                    if words.words:
                        await self.socket.send(TimestampsMessage(context_id=self.id, word_timestamps=words))

    async def _send_audio(self, data: bytes) -> None:
        for at in range(0, len(data), MAX_MESSAGE_AUDIO_BYTES):
            piece = base64.b64encode(data[at : at + MAX_MESSAGE_AUDIO_BYTES]).decode("ascii")
            await self.socket.send(AudioChunk(context_id=self.id, data=piece))


class ContextIdle(ApiError):
    status = 408


class AgentSocket:
    """One client's socket: its contexts by id, and one writer for all of them."""

    def __init__(self, server: TTSServer, websocket: WebSocket):
        self.server = server
        self.websocket = websocket
        self.contexts: dict[str, AgentContext] = {}
        self._sending = asyncio.Lock()

    async def send(self, message: _ServerMessage) -> None:
        text = message.model_dump_json()
        async with self._sending:
            if self.websocket.client_state == WebSocketState.CONNECTED:
                await self.websocket.send_text(text)

    async def receive(self, text: str) -> None:
        """Routes one client message: text for a context (a new one starts it), or a cancel."""
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            await self.send(ErrorMessage(context_id="", status_code=400, error=f"the message is not JSON: {exc}"))
            return
        context_id = str(fields.get("context_id", "")) if isinstance(fields, dict) else ""
        try:
            if isinstance(fields, dict) and fields.get("cancel"):
                self.cancel(CancelMessage.model_validate(fields).context_id)
                return
            message = ContextMessage.model_validate(fields)
        except ValidationError as exc:
            await self.send(ErrorMessage(context_id=context_id, status_code=400, error=explain(exc)))
            return
        context = self.contexts.get(message.context_id)
        if context is None:
            context = AgentContext(self, message)
            self.contexts[message.context_id] = context
            context.task = asyncio.create_task(context.run())
        else:
            context.inbox.put_nowait(message)

    def cancel(self, context_id: str) -> None:
        context = self.contexts.pop(context_id, None)
        if context is not None and context.task is not None:
            context.task.cancel()

    def ended(self, context: AgentContext) -> None:
        if self.contexts.get(context.id) is context:
            del self.contexts[context.id]

    async def close(self) -> None:
        """The client left: every context's work stops."""
        tasks = [context.task for context in self.contexts.values() if context.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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

    async def streamer(spoken: Spoken, tts: TTSRequest, on_close: Callable[[], Awaitable[object]]) -> ClosingStream:
        media_type = "application/octet-stream" if output.container == "raw" else STREAM_ENCODERS[tts.format].media_type
        framing = Framing("cartesia-bytes", frame, failure=None)
        return await framed_stream(spoken, tts, on_close, framing, media_type=media_type, headers=dict(NO_BUFFERING))

    return await server.answer(http_request, speech, streamer)


def register(app: FastAPI) -> None:
    """Adds /tts/websocket and /tts/bytes to `app` (the key, when one is set, is checked before
    them: serving.app.ApiKeyMiddleware)."""

    @app.post(BYTES_PATH, response_model=None, responses={200: {"description": "The audio, streamed"}})
    async def cartesia_bytes(http_request: Request) -> Response:
        return await bytes_route(http_request, server_of(http_request))

    @app.websocket(PATH)
    async def agent_socket(websocket: WebSocket) -> None:
        server: TTSServer | None = websocket.app.state.server
        if server is None:
            await websocket.close(TRY_AGAIN_LATER, "the server is starting")
            return
        await websocket.accept()
        socket = AgentSocket(server, websocket)
        try:
            with contextlib.suppress(WebSocketDisconnect):
                async for text in websocket.iter_text():
                    await socket.receive(text)
        finally:
            await socket.close()
