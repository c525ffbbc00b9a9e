"""Read and validate: an HTTP request's body -> a TTSRequest, or a 4xx that says what to fix.

Validation is one step, before admission and before any G2P: every 400 but one is decided here,
so a request that can never succeed is never told to retry (429) or wait (503). The one left is
a text that passes validation yet in which G2P finds nothing to say: that is known only once its
chunks are planned, after admission (serving.core.plan). The body is read up
to the size limit and no further (413 past it); a client gone while sending it is a 499. JSON
is parsed and validated in one step by pydantic-core, whose parser bounds nesting depth and
number size itself, so a 100,000-deep array or a 5,000-digit number is a 400, not a
RecursionError. Forms are parsed by Starlette from the bytes already read.
"""

from collections.abc import Callable
from typing import TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Scope

from engine.errors import InvalidInput
from engine.speech import SpeechPlanner
from schemas import TTSRequest

from .errors import BadRequest, BodyTooLarge, ClientLeft

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    try:
        async for piece in request.stream():
            body += piece
            if len(body) > limit:
                raise BodyTooLarge(limit)
    except ClientDisconnect:
        raise ClientLeft from None
    return bytes(body)


async def read_fields(request: Request, model: type[Model], limit: int) -> Model:
    """The body as `model`, from JSON or a form; anything else is a 400."""
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            return model.model_validate_json(body)
        if content_type in FORM_TYPES:
            return model.model_validate(await _form_fields(request.scope, body))
    except ValidationError as exc:
        raise BadRequest(explain(exc)) from None
    raise BadRequest(
        f"unsupported Content-Type '{content_type or 'none'}'; send application/json, "
        "application/x-www-form-urlencoded or multipart/form-data"
    )


async def validate_speech(planner: SpeechPlanner, request: TTSRequest) -> str:
    """The request's language code, once the voices, languages, script and limits accept it (else
    a 400)."""
    return await _checked(planner.validate, request.text, request.voice, request.speed, request.lang)


async def voice_language(planner: SpeechPlanner, voice: str, speed: float) -> str:
    """The language code of a voice whose text is still to come, once the voice and speed are
    accepted (else a 400)."""
    return await _checked(planner.language_of, voice, speed)


async def _checked(check: Callable[..., str], *fields: object) -> str:
    """A planner's check, off the event loop (a language's first use loads its G2P); what it
    refuses is a 400."""
    try:
        return await anyio.to_thread.run_sync(check, *fields)
    except InvalidInput as exc:
        raise BadRequest(str(exc)) from None


async def _form_fields(scope: Scope, body: bytes) -> dict[str, str]:
    """Starlette's form parser, fed the bytes already read (a request's stream is read only once)."""

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, replay).form(max_files=0)
    except Exception as exc:  # Starlette raises its own and python-multipart's errors for broken forms
        raise BadRequest(f"the form body could not be read: {exc}") from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


def explain(exc: ValidationError) -> str:
    """Pydantic's errors as one sentence each, naming the field and what it accepts."""
    messages = []
    for problem in exc.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "json_invalid":
            messages.append(f"the body is not valid JSON: {problem['msg'].removeprefix('Invalid JSON: ')}")
        elif problem["type"] == "model_type":
            messages.append('the JSON body must be an object, e.g. {"text": "Hello", "voice": "af_heart"}')
        elif problem["type"] == "missing":
            messages.append(f"'{field}' is required")
        else:
            shown = repr(problem.get("input"))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            messages.append(f"'{field}': {problem['msg']} (got {shown})")
    return "; ".join(messages)
