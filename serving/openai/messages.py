"""OpenAI's speech API as its clients speak it: the models and voices it names, its request and
its answers, and how each maps onto Kokoro's."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.speech import MAX_SPEED
from schemas import AudioFormat, OpenAIErrorDetail, TTSRequest, VoiceName

#: OpenAI's model ids, all served by the one Kokoro-82M model
MODELS = ("kokoro", "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
#: OpenAI's voices -> the stock Kokoro voice nearest in gender and character; Kokoro names pass as they are
OPENAI_VOICES = {
    "alloy": "af_alloy",
    "ash": "am_eric",
    "ballad": "bm_george",
    "coral": "af_heart",
    "echo": "am_echo",
    "fable": "bm_fable",
    "onyx": "am_onyx",
    "nova": "af_nova",
    "sage": "af_sarah",
    "shimmer": "af_sky",
    "verse": "am_michael",
    "marin": "af_kore",
    "cedar": "am_fenrir",
}
#: OpenAI accepts 0.25 to 4.0; the same rate multiplier is passed on, capped at Kokoro's MAX_SPEED
OPENAI_MIN_SPEED, OPENAI_MAX_SPEED = 0.25, 4.0


class SpeechRequest(BaseModel):
    """POST /v1/audio/speech, as OpenAI defines it (`instructions` is accepted and ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description=f"One of {', '.join(MODELS)}: all are Kokoro-82M")
    input: str = Field(min_length=1, description="The text to speak")
    voice: VoiceName = Field(
        description='An OpenAI voice name (mapped), or a Kokoro voice or blend; OpenAI\'s {"id": ...} form too',
    )
    response_format: AudioFormat = "mp3"
    speed: float = Field(
        1.0,
        ge=OPENAI_MIN_SPEED,
        le=OPENAI_MAX_SPEED,
        description=f"0.25 to 4.0; Kokoro's rate multiplier, capped at {MAX_SPEED}",
    )
    stream_format: Literal["audio", "sse"] = "audio"
    stream: bool = Field(
        True,
        description="Whether the audio is played as it arrives (Kokoro-FastAPI's field): false asks for a file "
        "kept whole, whose text is never cut to make its first audio sooner",
    )

    @field_validator("voice", mode="before")
    @classmethod
    def _voice_id(cls, voice: object) -> object:
        """OpenAI's custom-voice form, `{"id": "..."}`: here the id is a voice name."""
        return voice["id"] if isinstance(voice, dict) and "id" in voice else voice

    def to_tts(self) -> TTSRequest:
        return TTSRequest(
            text=self.input,
            voice=OPENAI_VOICES.get(self.voice, self.voice),
            speed=kokoro_speed(self.speed),
            format=self.response_format,
            include_timestamps=False,
        )


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "kokoro"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class Voice(BaseModel):
    id: str
    name: str
    kokoro_voice: str = Field(description="The Kokoro voice that speaks for this name")


class VoiceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Voice]


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


def kokoro_speed(openai_speed: float) -> float:
    """OpenAI's speed is the same rate multiplier as Kokoro's, and OpenAI's floor (0.25) is inside
    Kokoro's (0.1): only OpenAI's top, past Kokoro's 3.0, is capped there. Scaling the whole range
    instead would make every speed other than 1.0 mean something else than it does at OpenAI."""
    return min(openai_speed, MAX_SPEED)
