"""The HTTP contract's shapes: one Pydantic definition each, used by the service, the OpenAPI
schema and the tests. Field names follow the Kokoro TTS API Server that clients already speak.
"""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from engine.audio import SAMPLE_RATE
from engine.languages import LANGUAGE_NAMES
from engine.speech import MAX_SPEED, MIN_SPEED

AudioFormat = Literal["wav", "mp3", "aac", "opus", "flac", "pcm"]
CaptionFormat = Literal["srt", "vtt"]

#: The longest `voice` field read: a blend of four voices with their weights takes under 80
#: characters. A longer one is refused before any of it is parsed.
MAX_VOICE_CHARS = 200
#: a mark that joins or weights the voices of a blend, with the text between the marks
_BLEND_MARKS = re.compile(r"([,+()])")


def _voice_names(voice: str) -> str:
    """The names without the spaces around them ("af_heart\n" is af_heart, "af_bella + af_sky"
    af_bella+af_sky), as the voice library reads them. Every voice name and weight is ASCII, so
    the response's X-Voice header, which carries this value, always encodes."""
    names = "".join(piece.strip() for piece in _BLEND_MARKS.split(voice))
    if not names.isascii():
        raise ValueError("voice names are ASCII letters, digits and '_', weights ASCII digits, as in af_bella(2)")
    return names


#: a request's `voice`: a voice name or a blend, at most MAX_VOICE_CHARS long, its spaces removed
VoiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_VOICE_CHARS), AfterValidator(_voice_names)
]


class TTSRequest(BaseModel):
    """POST /tts/ as JSON, urlencoded form or multipart form."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, description="The text to speak", examples=["Hello world! This is Kokoro speaking."])
    voice: VoiceName = Field(
        description="A voice name from GET /tts/voices, or a blend of up to 4 joined by commas or pluses, each "
        "weighted by a number in brackets or 1",
        examples=["af_heart", "af_bella,af_sky", "af_bella(2)+af_sky(1)"],
    )
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description="Speaking rate, 0.1 to 3.0")
    format: AudioFormat = Field(
        "wav",
        description="wav (PCM16), mp3, aac (ADTS), opus (Ogg), flac or pcm (raw 16-bit little-endian 24 kHz mono)",
    )
    include_timestamps: bool = Field(
        True, description="true: JSON with base64 audio and word timestamps; false: the audio streamed"
    )
    lang: str | None = Field(
        None, description="Override the voice's language: a b e f h i j p z, or a name such as en-us, en-gb, es"
    )
    captions: CaptionFormat | None = Field(
        None,
        description="srt or vtt: the JSON answer's `captions` holds a caption file of the speech (whole words, at "
        "most 2 lines of 42 characters a cue, cut at sentence and clause ends); needs include_timestamps true",
    )

    @field_validator("captions")
    @classmethod
    def _captions_come_with_the_json_answer(cls, captions: str | None, info: ValidationInfo) -> str | None:
        if captions is not None and info.data.get("include_timestamps") is False:
            raise ValueError("captions come in the JSON answer: leave include_timestamps true, or captions out")
        return captions


class WordTimestamp(BaseModel):
    word: str = Field(description="The word as the user wrote it")
    start_time: float = Field(description="Seconds from the start of the audio")
    end_time: float
    phonemes: str
    whitespace: str = Field(
        description='The space that follows the word in the text: " " if one does, "" if not; '
        "word + whitespace, joined, rebuild the text"
    )


class TTSResponse(BaseModel):
    audio: str = Field(description="The whole encoded file, base64")
    audio_format: AudioFormat
    sample_rate: int = SAMPLE_RATE
    word_timestamps: list[WordTimestamp]
    total_duration: float = Field(description="Seconds of audio")
    voice: str
    speed: float
    text: str
    captions: str | None = Field(
        None, description="The whole caption file (SRT or WebVTT) when the request asked for `captions`; absent if not"
    )


class StreamChunkEvent(BaseModel):
    """A line of POST /tts/stream: one chunk, sent as soon as it is synthesised."""

    type: Literal["chunk"] = "chunk"
    audio: str = Field(
        description="This chunk's piece of the encoded file, base64; the events' audio joined in order is the "
        "whole file (for wav the first piece starts with the WAV header, the rest are PCM frames)"
    )
    words: list[WordTimestamp] = Field(description="This chunk's words, timed from the start of the whole audio")


class StreamDoneEvent(BaseModel):
    """The last line of POST /tts/stream."""

    type: Literal["done"] = "done"
    audio: str = Field(description="The encoder's closing bytes, base64 (empty for wav and pcm)")
    total_duration: float = Field(description="Seconds of audio")


class StreamErrorEvent(BaseModel):
    """The last line of POST /tts/stream when synthesis failed after the first line was sent: the
    audio before it is all there will be."""

    type: Literal["error"] = "error"
    error: str = Field(description="What failed, with the request id to find it in the server's log")


# OpenAI's: the events of POST /v1/audio/speech with stream_format sse, and its error object


class SpeechUsage(BaseModel):
    """Kokoro has no text tokens of OpenAI's kind: input_tokens counts the input's characters."""

    input_tokens: int
    output_tokens: int = 0
    total_tokens: int


class SpeechAudioDelta(BaseModel):
    type: Literal["speech.audio.delta"] = "speech.audio.delta"
    audio: str = Field(description="The next piece of the encoded audio file, base64")


class SpeechAudioDone(BaseModel):
    type: Literal["speech.audio.done"] = "speech.audio.done"
    usage: SpeechUsage


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class SpeechError(BaseModel):
    type: Literal["error"] = "error"
    error: OpenAIErrorDetail


class VoiceDetails(BaseModel):
    """A voice as kokoro names it: language letter, gender letter, '_', name (jf_alpha)."""

    name: str
    language: str | None = Field(
        description="What the voice speaks, from its name's first letter; null if the letter is no language",
        examples=["Japanese"],
    )
    gender: Literal["female", "male"] | None = Field(
        description="From its name's second letter (f, m); null for another letter"
    )


class VoicesResponse(BaseModel):
    voices: list[str]
    count: int
    details: list[VoiceDetails] = Field(description="Each voice's language and gender, in the order of `voices`")

    @classmethod
    def of(cls, names: list[str]) -> "VoicesResponse":
        genders = {"f": "female", "m": "male"}
        details = [VoiceDetails(name=n, language=LANGUAGE_NAMES.get(n[:1]), gender=genders.get(n[1:2])) for n in names]
        return cls(voices=names, count=len(names), details=details)


class HealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    voices_available: int
    device: str | None
    model_loaded: bool
    weights_source: str | None = Field(None, description="Where the Kokoro-82M weights were loaded from")


class ErrorResponse(BaseModel):
    error: str


class SynthesizerStatus(BaseModel):
    device: str
    weights_source: str
    decodes_windows: bool = Field(False, description="Whether a chunk job may ask for a window of its frames")
