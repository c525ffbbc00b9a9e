"""One client's WebSocket: its messages read, bounded and routed to their contexts, and one writer
for all of them."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import Message
from starlette.websockets import WebSocketState

from ..core.config import SocketLimits
from ..core.errors import POLICY_VIOLATION, ClientLeft
from ..core.lifecycle import TTSServer
from ..core.metrics import RESPONSES
from ..core.request import explain
from .clients import SocketClients
from .context import AgentContext
from .messages import MAX_CONTEXT_ID_CHARS, PATH, CancelMessage, ContextMessage, ErrorMessage, ServerMessage

log = logging.getLogger("kokoro_tts")

#: WebSocket close codes (RFC 6455): a normal end (an idle socket); a message too big to read
#: (the server's WebSocket layer closes with it, past four times the limit: service.py); try
#: again later (the server is starting, or the client is turned away for a while)
NORMAL_CLOSURE = 1000
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
#: a close frame's reason is at most 123 bytes
MAX_CLOSE_REASON_BYTES = 123
#: messages waiting while their context speaks that cannot be joined to the one before (flushes)
MAX_WAITING_MESSAGES = 64


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

    def __init__(
        self, server: TTSServer, websocket: WebSocket, limits: SocketLimits, clients: SocketClients, address: str
    ):
        """`clients` and `address`: whose socket this is, among the server's (serving.cartesia.clients)."""
        self.server = server
        self.websocket = websocket
        self.limits = limits
        self.clients = clients
        self.address = address
        self.contexts: dict[str, AgentContext] = {}
        self._sending = asyncio.Lock()
        self._gone = False
        #: closed for abuse (a flood, or a message far over the limit): its address is turned away a while
        self.abused = False
        self._active_at = asyncio.get_running_loop().time()  # the last message, or the last context's end

    async def send(self, message: ServerMessage) -> None:
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

    async def tell(self, message: ServerMessage) -> None:
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
                self.abused = received.get("code") == MESSAGE_TOO_BIG
                return
            self._active_at = loop.time()
            if not allowance.take():
                rate = self.limits.max_messages_s
                flood = f"over {rate:g} messages a second (TTS_WS_MAX_MESSAGES_S); the socket is closed"
                self.abused = True
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
        if context.held_chars() + len(message.transcript) > max_chars:
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

    async def turn_away(self, reason: str) -> None:
        """Closes a socket the server does not take from this client now (serving.cartesia.clients)."""
        await self._close(TRY_AGAIN_LATER, 429, reason)

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
