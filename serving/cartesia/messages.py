"""Cartesia's WebSocket and bytes route, as its clients speak them: the paths, the messages a client
sends, and those the server answers with."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.audio import SAMPLE_RATE
from engine.speech import MAX_SPEED, MIN_SPEED
from schemas import VoiceName

PATH = "/tts/websocket"
BYTES_PATH = "/tts/bytes"
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
#: Cartesia's default for how long text that stops mid-clause waits for more
DEFAULT_BUFFER_DELAY_MS = 3000
#: a context id is echoed in every answer: a UUID is 36 characters
MAX_CONTEXT_ID_CHARS = 256


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


class ServerMessage(BaseModel):
    context_id: str
    status_code: int = 206
    done: bool = False


class AudioChunk(ServerMessage):
    type: Literal["chunk"] = "chunk"
    data: str = Field(description="base64 raw PCM in the context's output format")


class WordTimestamps(BaseModel):
    words: list[str]
    start: list[float]
    end: list[float]


class TimestampsMessage(ServerMessage):
    type: Literal["timestamps"] = "timestamps"
    word_timestamps: WordTimestamps


class FlushDone(ServerMessage):
    type: Literal["flush_done"] = "flush_done"
    flush_done: bool = True
    flush_id: int


class Done(ServerMessage):
    type: Literal["done"] = "done"
    status_code: int = 200
    done: bool = True


class ErrorMessage(ServerMessage):
    type: Literal["error"] = "error"
    done: bool = True
    error: str
