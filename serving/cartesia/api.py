"""Cartesia's TTS protocol: its WebSocket on /tts/websocket and its bytes route on POST
/tts/bytes, so that voice-agent frameworks' Cartesia clients (pipecat's CartesiaTTSService and
CartesiaHttpTTSService, LiveKit's cartesia.TTS) speak through this server as they are.

One socket carries many contexts (an agent's turns), routed by `context_id`. A context's text
arrives in pieces, as whole sentences or as an LLM's tokens (serving.cartesia.gather hands out each
sentence once it is complete), and each run of sentences is spoken through the same lifecycle as
an HTTP request: validation, readiness, admission, the fair lanes, metrics. Its audio leaves as
raw PCM at the rate asked, each chunk followed by its words' timestamps (seconds from the
context's first sample, in the words the client sent); `done` follows the last audio of a context
the client ended. A `cancel`, or the socket closing, stops a context's work at once: the chunk
inside the model is the most it costs.
"""

import asyncio
import base64
import collections
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
from starlette.types import Message
from starlette.websockets import WebSocketState

from engine.audio import SAMPLE_RATE, STREAM_ENCODERS
from engine.speech import MAX_SPEED, MIN_SPEED, Timeline, WordTiming
from engine.synthesis import ChunkAudio
from engine.text import Chunk, speakable
from schemas import TTSRequest, VoiceName

from ..core import request_id
from ..core.config import SocketLimits
from ..core.errors import CLIENT_CLOSED, POLICY_VIOLATION, ApiError, BadRequest, Busy, ClientLeft, NotReady
from ..core.lifecycle import TTSServer, server_of
from ..core.metrics import AUDIO_SECONDS, RESPONSES, STREAMS_FAILED
from ..core.request import explain, read_fields, voice_language
from ..core.respond import NO_BUFFERING, ClosingStream, EncodedPiece, Framing, Spoken, framed_stream
from .gather import TextGatherer, joined, parts

log = logging.getLogger("kokoro_tts")
PATH = "/tts/websocket"
BYTES_PATH = "/tts/bytes"
#: the routes whose answers are counted by route (a socket's contexts are counted under PATH)
ROUTES = frozenset({BYTES_PATH})
ENDPOINTS = {
    f"POST {BYTES_PATH}": "Cartesia's bytes route: a transcript's audio, raw PCM at 8 to 48 kHz",
    f"WebSocket {PATH}": "Cartesia's WebSocket TTS protocol, for voice agents: text as it is "
    "written, raw PCM and word timestamps back, several contexts per socket",
}
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
#: WebSocket close codes (RFC 6455): try again later; a normal end (an idle socket)
TRY_AGAIN_LATER = 1013
NORMAL_CLOSURE = 1000
#: a close frame's reason is at most 123 bytes
MAX_CLOSE_REASON_BYTES = 123
#: a context id is echoed in every answer: a UUID is 36 characters
MAX_CONTEXT_ID_CHARS = 256
#: messages waiting while their context speaks that cannot be joined to the one before (flushes)
MAX_WAITING_MESSAGES = 64
#: a sentence run refused for a moment (429, 503) is asked for again, after its Retry-After and
#: at least a backoff that doubles from RETRY_BACKOFF_S, at most RETRIES times and only while the
#: wait ends within RETRY_WITHIN_S of the first refusal: a listener hears a pause of a few
#: seconds rather than the rest of the answer lost
RETRIES = 3
RETRY_BACKOFF_S = 0.5
RETRY_WITHIN_S = 10.0


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

    context_id: str = Field(min_length=1, max_length=MAX_CONTEXT_ID_CHARS)
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
        #: messages not read yet; one after another without a flush or an end are joined into one
        self.inbox: collections.deque[ContextMessage] = collections.deque()
        self._arrived = asyncio.Event()
        self.gatherer: TextGatherer | None = None
        self.timeline = Timeline()
        self.audio = AudioOut(first.output_format)
        self.spaced = True
        self.began: float | None = None  # loop time of the context's first audio request
        self.flushes = 0
        self.refused: int | None = None  # the status the socket ended it with, if it did
        self.task: asyncio.Task[None] | None = None

    def post(self, message: ContextMessage) -> None:
        """Queues a message for the context's task, joined to the one before it where that one
        neither flushes nor ends the context, nor is to be spoken at once (`max_buffer_delay_ms`
        0) before text that is to be gathered: its text is spoken the same way either way."""
        last = self.inbox[-1] if self.inbox else None
        speaks_at_once = last is not None and last.max_buffer_delay_ms == 0
        if (
            last is not None
            and not last.flush
            and last.continue_
            and (message.max_buffer_delay_ms == 0 or not speaks_at_once)
        ):
            message = message.model_copy(update={"transcript": joined(last.transcript, message.transcript)})
            self.inbox[-1] = message
        else:
            self.inbox.append(message)
        self._arrived.set()

    def unspoken_chars(self) -> int:
        """The text the context holds that has not been spoken: gathered, and waiting to be."""
        gathered = len(self.gatherer.pending) if self.gatherer is not None else len(self.first.transcript)
        return gathered + sum(len(message.transcript) for message in self.inbox)

    async def run(self) -> None:
        """Speaks the context's text as it comes, until the client ends it; then `done`."""
        request_id.assign(None)
        started = time.perf_counter()
        status = CLIENT_CLOSED
        try:
            status = await self._serve()
        except ClientLeft:
            status = CLIENT_CLOSED
        except ApiError as exc:
            status = exc.status
            await self.socket.tell(ErrorMessage(context_id=self.id, status_code=exc.status, error=exc.message))
        except Exception as exc:
            status = 500
            STREAMS_FAILED.labels("websocket").inc()
            log.error("context %s (request %s) failed", self.id, request_id.current(), exc_info=exc)
            error = f"synthesis failed; the audio sent is incomplete (request id {request_id.current()})"
            await self.socket.tell(ErrorMessage(context_id=self.id, status_code=500, error=error))
        finally:
            status = self.refused or status
            AUDIO_SECONDS.inc(self.timeline.duration_s)
            RESPONSES.labels(PATH, str(status)).inc()
            self.socket.ended(self)
            log.info(
                "context %s: %d after %.3f s, %.2f s of audio (request %s)",
                self.id, status, time.perf_counter() - started, self.timeline.duration_s, request_id.current(),
            )  # fmt: skip

    async def _serve(self) -> int:
        """The context's messages in order: text gathered and spoken as `serving.cartesia.gather` says,
        a flush answered once what came before it is spoken, the last message with `done`.

        The buffer delay is kept while messages keep coming: text that has waited it out is
        spoken before the next message is read."""
        loop = asyncio.get_running_loop()
        planner = self.socket.server.planner
        language = await voice_language(planner, self.first.voice.id, self.first.generation_config.speed)
        gatherer = TextGatherer(planner.phonemizers.get(language).sentences, self.socket.limits.max_gather_chars)
        self.gatherer = gatherer
        self.spaced = language not in UNSPACED_LANGUAGES
        delay_s = self.first.max_buffer_delay_ms / 1000
        message: ContextMessage | None = self.first
        oldest = loop.time()  # when the oldest text not spoken yet arrived (about: when it was last handed out)
        while True:
            if message is not None:
                if not speakable(gatherer.pending):
                    oldest = loop.time()
                gatherer.add(message.transcript)
                if message.max_buffer_delay_ms == 0 or message.flush or not message.continue_:
                    await self._speak(gatherer.rest())
                else:
                    if gatherer.may_complete() and (sentences := await anyio.to_thread.run_sync(gatherer.complete)):
                        await self._speak(sentences)
                        oldest = loop.time()
                    while part := gatherer.overflow():  # text that runs on without a sentence end
                        await self._speak(part)
                        oldest = loop.time()
                if message.flush:
                    self.flushes += 1
                    await self.socket.send(FlushDone(context_id=self.id, flush_id=self.flushes))
                if not message.continue_:
                    await self._send_audio(self.audio.convert(np.zeros(0, dtype=np.int16), last=True))
                    await self.socket.send(Done(context_id=self.id))
                    return 200
            message = None
            if speakable(gatherer.pending) and loop.time() >= oldest + delay_s:
                await self._speak(gatherer.rest())
                continue
            if self.inbox:  # text that came while the last was spoken goes first
                message = self.inbox.popleft()
                continue
            if not speakable(gatherer.pending):  # a lone mark ('"') waits for the word it belongs to
                wait = CONTEXT_IDLE_S
            elif gatherer.at_pause():
                wait = PAUSE_WAIT_S
            else:
                wait = oldest + delay_s - loop.time()
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)
            if self.inbox:
                continue
            if not speakable(gatherer.pending):
                raise ContextIdle(f"no text came for {CONTEXT_IDLE_S:.0f} s; the context is closed")
            await self._speak(gatherer.rest())

    async def _speak(self, text: str) -> None:
        """Speaks a run of complete sentences, continuing the context's timeline, in parts of at
        most the gathering limit, so that each part's admission weighs what one sentence run
        may; text with nothing to say (a lone mark, the " " that ends a context) is skipped."""
        for part in parts(text, self.socket.limits.max_gather_chars):
            if speakable(part):
                await self._speak_part(part)

    async def _speak_part(self, text: str) -> None:
        """One part, asked for again when it is refused for a moment (the server full: 429, or a
        synthesizer unavailable: 503) before any of its audio was sent, after the Retry-After
        it was given, a bounded number of times within RETRY_WITHIN_S: a voice agent's turn
        pauses rather than ending after part of it was heard. A refusal that lasts is the
        context's error."""
        loop = asyncio.get_running_loop()
        if self.began is None:
            self.began = loop.time()
        request = TTSRequest(
            text=text,
            voice=self.first.voice.id,
            speed=self.first.generation_config.speed,
            format="pcm",
            include_timestamps=False,
        )
        give_up_at = loop.time() + RETRY_WITHIN_S
        for attempt in range(RETRIES + 1):
            sent_s = self.timeline.duration_s
            try:
                async with self.socket.server.spoken(request, self.began, sent_s) as spoken:
                    async for chunk, audio in spoken:
                        await self._send_chunk(chunk, audio)
                return
            except (Busy, NotReady) as exc:
                wait_s = max(RETRY_BACKOFF_S * 2**attempt, float(exc.headers.get("Retry-After", 0)))
                if self.timeline.duration_s > sent_s or attempt == RETRIES or loop.time() + wait_s > give_up_at:
                    raise
                log.info("context %s: a run was refused (%d); asked again in %.1f s", self.id, exc.status, wait_s)
                await wait_before_retry(wait_s)

    async def _send_chunk(self, chunk: Chunk, audio: ChunkAudio) -> None:
        placed = self.timeline.add(chunk, audio)
        await self._send_audio(await anyio.to_thread.run_sync(self.audio.convert, placed.samples))
        if self.first.add_timestamps and placed.words:
            words = cartesia_words(placed.words, self.spaced)
            if words.words:
                await self.socket.send(TimestampsMessage(context_id=self.id, word_timestamps=words))

    async def _send_audio(self, data: bytes) -> None:
        for at in range(0, len(data), MAX_MESSAGE_AUDIO_BYTES):
            piece = base64.b64encode(data[at : at + MAX_MESSAGE_AUDIO_BYTES]).decode("ascii")
            await self.socket.send(AudioChunk(context_id=self.id, data=piece))


async def wait_before_retry(seconds: float) -> None:
    """The pause before a refused run is asked for again."""
    await asyncio.sleep(seconds)


class ContextIdle(ApiError):
    status = 408


class MessageAllowance:
    """A token bucket: `per_s` messages a second on average, a second's worth at once."""

    def __init__(self, per_s: float, clock: Callable[[], float]):
        self.per_s = per_s
        self._clock = clock
        self._tokens = per_s
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.per_s, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class AgentSocket:
    """One client's socket: its contexts by id, one writer for all of them, and the bounds on
    what the client may hold and send (serving.core.config.SocketLimits). A message the server
    cannot take is answered with an error and the socket serves on; a flood of messages, or a
    socket left idle, is closed."""

    def __init__(self, server: TTSServer, websocket: WebSocket, limits: SocketLimits):
        self.server = server
        self.websocket = websocket
        self.limits = limits
        self.contexts: dict[str, AgentContext] = {}
        self._sending = asyncio.Lock()
        self._gone = False
        self._active_at = asyncio.get_running_loop().time()  # the last message, or the last context's end

    async def send(self, message: _ServerMessage) -> None:
        """Sends one message; ClientLeft once the client is gone, which ends a context quietly."""
        text = message.model_dump_json()
        async with self._sending:
            connected = WebSocketState.CONNECTED
            if self._gone or connected != self.websocket.client_state or connected != self.websocket.application_state:
                raise ClientLeft
            try:
                await self.websocket.send_text(text)
            except (WebSocketDisconnect, OSError, RuntimeError) as exc:  # Starlette's, after a close
                self._gone = True
                raise ClientLeft from exc

    async def tell(self, message: _ServerMessage) -> None:
        """Sends an error or a refusal, if the client is still there to read it."""
        with contextlib.suppress(ClientLeft):
            await self.send(message)

    async def serve(self) -> None:
        """Reads the client's messages until it leaves, floods the socket or leaves it idle."""
        loop = asyncio.get_running_loop()
        allowance = MessageAllowance(self.limits.max_messages_s, loop.time)
        while True:
            quiet_s = 0.0 if self.contexts else loop.time() - self._active_at
            try:
                received = await asyncio.wait_for(self.websocket.receive(), self.limits.idle_s - quiet_s)
            except TimeoutError:
                if self.contexts or loop.time() - self._active_at < self.limits.idle_s:
                    continue
                idle = f"no message for {self.limits.idle_s:.0f} s (TTS_WS_IDLE_S); the socket is closed"
                await self._close(NORMAL_CLOSURE, 408, idle)
                return
            if received["type"] == "websocket.disconnect":
                return
            self._active_at = loop.time()
            if not allowance.take():
                rate = self.limits.max_messages_s
                flood = f"over {rate:g} messages a second (TTS_WS_MAX_MESSAGES_S); the socket is closed"
                await self._close(POLICY_VIOLATION, 429, flood)
                return
            try:
                await self.receive(received)
            except ClientLeft:
                return
            except Exception:  # whatever a message does, the socket's other contexts serve on
                log.exception("a message on %s could not be handled", PATH)
                await self.tell(ErrorMessage(context_id="", status_code=500, error="the message could not be handled"))

    async def receive(self, received: Message) -> None:
        """Routes one client message (an ASGI `websocket.receive`): text for a context (a new
        one starts it), or a cancel; what cannot be taken is answered with an error."""
        text = received.get("text")
        if text is None:
            await self.refuse("", 400, "a message is JSON text; this one came as a binary frame")
            return
        limit = self.limits.max_message_bytes
        if len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
            over = f"the message is over {limit} bytes (TTS_WS_MAX_MESSAGE_BYTES): send less text in each"
            await self.refuse("", 413, over)
            return
        try:
            fields = json.loads(text)
        except ValueError as exc:
            await self.refuse("", 400, f"the message is not JSON: {exc}")
            return
        except RecursionError:
            await self.refuse("", 400, "the message nests too deeply to be read")
            return
        if not isinstance(fields, dict):
            await self.refuse("", 400, 'a message is a JSON object: {"context_id": "turn-1", "transcript": "Hi", ...}')
            return
        given_id = fields.get("context_id")
        context_id = given_id if isinstance(given_id, str) and len(given_id) <= MAX_CONTEXT_ID_CHARS else ""
        try:
            if fields.get("cancel"):
                self.cancel(CancelMessage.model_validate(fields).context_id)
                return
            message = ContextMessage.model_validate(fields)
        except ValidationError as exc:
            await self.refuse(context_id, 400, explain(exc))
            return
        except RecursionError:
            await self.refuse(context_id, 400, "the message nests too deeply to be read")
            return
        await self._take(message)

    async def _take(self, message: ContextMessage) -> None:
        """Hands a message to its context, or starts one, within the socket's bounds."""
        max_chars = self.server.planner.max_text_chars
        too_much = (
            f"the context's text not yet spoken would be over {max_chars} characters (TTS_MAX_TEXT_LENGTH); "
            "send the rest in a new context once this one is done"
        )
        context = self.contexts.get(message.context_id)
        if context is None:
            if len(self.contexts) >= self.limits.max_contexts:
                busy = (
                    f"this socket has {len(self.contexts)} contexts open, the most it may (TTS_WS_MAX_CONTEXTS); "
                    "end one (continue: false) or cancel it first"
                )
                await self.refuse(message.context_id, 429, busy)
            elif len(message.transcript) > max_chars:
                await self.refuse(message.context_id, 413, too_much)
            else:
                context = AgentContext(self, message)
                self.contexts[message.context_id] = context
                context.task = asyncio.create_task(context.run())
            return
        if context.unspoken_chars() + len(message.transcript) > max_chars:
            await self.end(context, 413, too_much)
        elif len(context.inbox) >= MAX_WAITING_MESSAGES:
            waiting = f"over {MAX_WAITING_MESSAGES} messages that flush wait for this context; wait for flush_done"
            await self.end(context, 429, waiting)
        else:
            context.post(message)

    async def refuse(self, context_id: str, status: int, error: str) -> None:
        await self.tell(ErrorMessage(context_id=context_id, status_code=status, error=error))
        RESPONSES.labels(PATH, str(status)).inc()

    async def end(self, context: AgentContext, status: int, error: str) -> None:
        """Ends a context the client asked too much of: its work stops and its error is sent."""
        context.refused = status
        self.cancel(context.id)
        await self.tell(ErrorMessage(context_id=context.id, status_code=status, error=error))

    def cancel(self, context_id: str) -> None:
        context = self.contexts.pop(context_id, None)
        if context is not None and context.task is not None:
            context.task.cancel()

    def ended(self, context: AgentContext) -> None:
        if self.contexts.get(context.id) is context:
            del self.contexts[context.id]
        self._active_at = asyncio.get_running_loop().time()

    async def _close(self, code: int, status: int, reason: str) -> None:
        """Closes the socket with `reason`, sent first as an error for clients that read no close reason."""
        await self.refuse("", status, reason)
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await self.websocket.close(code, reason[:MAX_CLOSE_REASON_BYTES])

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

    return await server.answer(http_request, speech, streamer, played_as_sent=False)


def register(app: FastAPI, limits: SocketLimits) -> None:
    """Adds /tts/websocket and /tts/bytes to `app` (the key, when one is set, is checked before
    them: serving.core.access.ApiKeyMiddleware); each socket is held to `limits`."""

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
        socket = AgentSocket(server, websocket, limits)
        try:
            await socket.serve()
        finally:
            await socket.close()
