"""A TTS request's life: read and validate, admit, plan, synthesize, respond; over as soon as its
client leaves.

`TTSServer` holds what every request shares (planner, lanes, admission, health) and runs one
request through the steps in serving/core. Every 400 but one is decided before the server is
asked whether it is ready (503) or has room (429): the plan's, for a text in which G2P finds
nothing to say (serving.core.plan). A request holds its admission ticket, and its chunk in the
fair queue, until its response is complete or its client disconnects, whichever is first: a
client that left costs at most the chunk already inside the model. What it holds is one `Held`,
let go by its one `release` whatever ends the request. Each chunk rendered counts its text as
spoken, which is how admission measures the server's rate.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from typing import TypeVar

from fastapi.responses import Response
from starlette.requests import Request

from engine.speech import SpeechPlanner
from engine.synthesis import ChunkAudio
from engine.text import Chunk
from schemas import SynthesizerStatus, TTSRequest

from .admission import Admission, Ticket
from .errors import BadRequest, ClientLeft, NotReady
from .health import HealthMonitor
from .lanes import Lane
from .plan import ChunkPlan
from .request import read_fields, validate_speech
from .respond import ReleasingStream, RenderedChunks, Streamer, json_response, ndjson_response, stream_response
from .synthesize import rendered_chunks

T = TypeVar("T")
#: what a client that is still loading the model is told to wait
LOADING_RETRY_S = 10.0


def server_of(http_request: Request) -> "TTSServer":
    """The app's TTSServer (service.py puts it in `app.state` once the model side is wired), or a
    503 while the server is still starting."""
    server: TTSServer | None = http_request.app.state.server
    if server is None:
        raise NotReady("the server is starting", LOADING_RETRY_S)
    return server


class Held:
    """What one request holds while it is answered: its admission ticket, and its chunks in the
    lanes (the rendered chunks, whose close takes back the chunk waiting in a fair queue). The
    lifecycle's one way to let go of them is `release`, called once the request is over, whichever
    of its ends comes first; a later call does nothing."""

    def __init__(self) -> None:
        self._held = contextlib.AsyncExitStack()

    async def admitted(self, admission: Admission, chars: int, answered_whole: bool) -> Ticket:
        """The request's ticket, once admission gives it its turn (Busy when it cannot)."""
        return await self._held.enter_async_context(admission.admit(chars, answered_whole=answered_whole))

    def closed_on_release(self, rendered: AsyncGenerator[tuple[Chunk, ChunkAudio]]) -> RenderedChunks:
        self._held.push_async_callback(rendered.aclose)
        return rendered

    async def release(self) -> None:
        """Lets go of the chunks (closed first: nothing more goes to a lane), then the ticket."""
        await self._held.aclose()


class TTSServer:
    def __init__(
        self, planner: SpeechPlanner, lanes: Sequence[Lane], admission: Admission, health: HealthMonitor, max_body: int
    ):
        """`lanes[0]` renders each request's first chunk, `lanes[-1]` the rest (the same lane if one)."""
        self.planner = planner
        self.first_lane, self.later_lane = lanes[0], lanes[-1]
        self.admission = admission
        self.health = health
        self.max_body = max_body

    async def speak(self, http_request: Request) -> Response:
        """POST /tts/: the body read and validated, then answered as JSON or streamed audio."""
        request = await read_fields(http_request, TTSRequest, self.max_body)
        return await self.answer(http_request, request, stream_response)

    async def speak_events(self, http_request: Request) -> Response:
        """POST /tts/stream: /tts/'s fields, answered as NDJSON events. The words travel in the
        events, so `include_timestamps` never turns the answer into one JSON body, and `captions`,
        which only that body carries, is refused."""
        request = await read_fields(http_request, TTSRequest, self.max_body)
        if request.captions is not None:
            raise BadRequest(
                "'captions': POST /tts/stream sends each chunk's words in its events; "
                "captions come in POST /tts/'s JSON answer"
            )
        return await self.answer(
            http_request, request.model_copy(update={"include_timestamps": False}), ndjson_response
        )

    async def answer(
        self, http_request: Request, request: TTSRequest, streamer: Streamer, played_as_sent: bool = True
    ) -> Response:
        """A request whose fields have been read, through the one lifecycle: validation (400),
        readiness (503), admission (429), plan, lanes, cancel on disconnect. `streamer` shapes the
        body when timestamps are off, so that other APIs (the OpenAI-compatible routes) frame the
        same chunks their own way. `played_as_sent`: the client plays the audio as it arrives, so
        the first audio's time is what it waits for: its first sentence is decoded in windows
        (`first_window`); a file kept whole is not."""
        language, status = await self._checked(request)
        window = self.first_window(status) if played_as_sent and not request.include_timestamps else None
        held = Held()
        response: Response | None = None
        try:
            response = await while_client_waits(http_request, self._respond(held, request, language, streamer, window))
            return response
        finally:
            # answered whole, failed, or its client left before a stream was handed over: over now;
            # a stream is over when its body ends, and lets go then (ReleasingStream)
            if not isinstance(response, ReleasingStream):
                await held.release()

    async def _checked(self, request: TTSRequest) -> tuple[str, SynthesizerStatus]:
        """The request's language once it is valid (else 400), and the synthesizers' status once
        they are ready (else 503)."""
        language = await validate_speech(self.planner, request)
        status = await self.health.status()
        if status is None:
            raise NotReady("the model is not loaded yet", LOADING_RETRY_S)
        return language, status

    def first_window(self, status: SynthesizerStatus) -> int | None:
        """The frames of a stream's first sentence to decode before the rest, where the model can."""
        return (self.planner.first_window_frames or None) if status.decodes_windows else None

    @contextlib.asynccontextmanager
    async def rendering(
        self,
        request: TTSRequest,
        began: float | None = None,
        sent_s: float = 0.0,
        ahead_s: float | None = None,
        due_later_s: float = 0.0,
    ) -> AsyncIterator[RenderedChunks]:
        """The chunks of a request that is not an HTTP exchange (a WebSocket context's sentences),
        through the same lifecycle: validation (BadRequest), readiness (NotReady), admission
        (Busy), the lanes; what it holds is let go as the block ends, by the same `Held.release`.
        `began` and `sent_s`: when the stream this text continues began (loop time), and how much
        audio it has had, so that its chunks are due as that audio plays; `ahead_s`: how far ahead
        of that audio's playing a chunk is rendered at most; `due_later_s`: how much later than
        that its chunks are due, queued behind the client's own (serving.core.synthesize)."""
        language, status = await self._checked(request)
        # a turn's later sentences continue audio already playing: their first audio is not awaited
        window = None if sent_s else self.first_window(status)
        held = Held()
        try:
            # a voice agent's next sentence goes where a stream's later chunks go (the later lane,
            # asked of the first too when late: lanes.render_hedged): in the first lane, a client
            # that sends text faster than it is heard would hold the model that everyone else's
            # first audio waits for
            yield await self._held_chunks(
                held, request, language, window, began=began, sent_s=sent_s, ahead_s=ahead_s, due_later_s=due_later_s
            )
        finally:
            await held.release()

    async def _respond(
        self, held: Held, request: TTSRequest, language: str, streamer: Streamer, first_window: int | None
    ) -> Response:
        """The answer: JSON once every chunk is rendered, or a stream, which is handed `held.release`
        to call as its body ends (the ticket and the lanes stay held while it streams)."""
        answered_whole = request.include_timestamps
        rendered = await self._held_chunks(held, request, language, first_window, answered_whole)
        if answered_whole:
            return await json_response(rendered, request)
        return await streamer(rendered, request, held.release)

    async def _held_chunks(
        self,
        held: Held,
        request: TTSRequest,
        language: str,
        first_window: int | None,
        answered_whole: bool = False,
        began: float | None = None,
        sent_s: float = 0.0,
        ahead_s: float | None = None,
        due_later_s: float = 0.0,
    ) -> RenderedChunks:
        """The request's rendered chunks, once admission gives it its turn; its ticket and its
        chunks are `held`'s until it is released."""
        ticket = await held.admitted(self.admission, len(request.text), answered_whole)
        plan = ChunkPlan(self.planner.chunks(request.text, language))
        chunks = rendered_chunks(
            plan,
            request,
            self.first_lane,
            self.later_lane,
            ticket.finish_by,
            began,
            sent_s,
            first_window=first_window,
            ahead_s=ahead_s,
            due_later_s=due_later_s,
        )
        return held.closed_on_release(counted(chunks, ticket))


async def counted(rendered: RenderedChunks, ticket: Ticket) -> AsyncGenerator[tuple[Chunk, ChunkAudio]]:
    """`rendered`, telling admission how much of the text each chunk spoke (once, at its first
    audio: a chunk may come in windows)."""
    async with contextlib.aclosing(rendered):
        async for chunk, audio in rendered:
            if audio.frames_from == 0:
                ticket.advance(len(chunk.text))
            yield chunk, audio


async def while_client_waits(http_request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientLeft as soon as the client disconnects; `work` is then cancelled,
    and what it made as the client left is never sent (the caller lets go of what it held).

    The body has been read, so the next ASGI message can only be `http.disconnect` (as in vLLM's
    `listen_for_disconnect`). Once a streamed response starts, Starlette's own disconnect watch
    takes over and cancels the body."""
    task = asyncio.ensure_future(work)
    left = asyncio.ensure_future(_disconnected(http_request))
    try:
        await asyncio.wait({task, left}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise ClientLeft
    finally:
        left.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _disconnected(http_request: Request) -> None:
    while (await http_request.receive())["type"] != "http.disconnect":
        pass
