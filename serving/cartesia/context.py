"""One context of an agent's socket: its text gathered into sentences as it arrives, each run
spoken through the TTSServer in order, its audio and words sent back on one timeline."""

import asyncio
import base64
import collections
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import anyio
import numpy as np

from engine.speech import Timeline
from engine.synthesis import ChunkAudio
from engine.text import Chunk, speakable
from schemas import TTSRequest

from ..core import request_id
from ..core.errors import CLIENT_CLOSED, ApiError, Busy, ClientLeft, NotReady
from ..core.metrics import AUDIO_SECONDS, RESPONSES, STREAMS_FAILED
from ..core.request import voice_language
from .gather import TextGatherer, joined, parts
from .messages import PATH, AudioChunk, ContextMessage, Done, ErrorMessage, FlushDone, TimestampsMessage
from .resample import AudioOut
from .words import UNSPACED_LANGUAGES, cartesia_words

if TYPE_CHECKING:
    from .agent_socket import AgentSocket

log = logging.getLogger("kokoro_tts")

#: how long text that stops at a sentence or clause mark waits for more before it is spoken
PAUSE_WAIT_S = 0.15
#: a context whose client sends nothing for this long, with its audio all sent, ends with an error
CONTEXT_IDLE_S = 120.0
#: the raw audio one `chunk` message carries at most: its JSON stays far under 1 MiB
MAX_MESSAGE_AUDIO_BYTES = 192 * 1024
#: a sentence run refused for a moment (429, 503) is asked for again, after its Retry-After and
#: at least a backoff that doubles from RETRY_BACKOFF_S, at most RETRIES times and only while the
#: wait ends within RETRY_WITHIN_S of the first refusal: a listener hears a pause of a few
#: seconds rather than the rest of the answer lost
RETRIES = 3
RETRY_BACKOFF_S = 0.5
RETRY_WITHIN_S = 10.0


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
        #: how much later than asked for its first run is due: its client's turn (serving.cartesia.clients)
        self.due_later_s = 0.0
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

    def held_chars(self) -> int:
        """The text the context holds and has not handed out: in its gatherer, and in messages not read yet."""
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
            self.due_later_s = self.socket.clients.opening_due_later_s(self.socket.address)
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
                ahead_s = self.socket.limits.max_ahead_s or None
                later_s = 0.0 if sent_s else self.due_later_s  # the later runs continue audio already playing
                async with self.socket.server.rendering(request, self.began, sent_s, ahead_s, later_s) as rendered:
                    async for chunk, audio in rendered:
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
