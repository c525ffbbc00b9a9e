"""Speech: the engine's steps joined: validate, plan chunks, render each, time its words.

`SpeechPlanner` does everything before the model (it is what the HTTP face runs), `Timeline`
everything after it, and `speak` joins both around a renderer for in-process use. Chunks are
produced lazily: the first chunk's audio exists before the rest of the text is phonemized.
"""

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE
from .errors import InvalidInput, NothingToSpeak, TextTooLong
from .languages import Phonemizers, check_script, resolve_language
from .synthesis import FADE_SAMPLES, ChunkAudio, ChunkJob, silence
from .text import Chunk, plan_chunks, speakable
from .timing import SAMPLES_PER_FRAME, WordTiming, word_timings
from .trim import voiced_span
from .voices import VoiceLibrary
from .windows import FIRST_WINDOW_FRAMES

MIN_SPEED, MAX_SPEED = 0.1, 3.0
#: kept before an answer's first voiced frame: a soft first sound's onset (the first speech is
#: then within 50 ms of the answer's start)
LEAD_SAMPLES = round(0.03 * SAMPLE_RATE)
#: kept after a chunk's last voiced frame: the last sound's decay, and an answer's short end
TAIL_SAMPLES = round(0.15 * SAMPLE_RATE)


@dataclass(frozen=True)
class PlacedChunk:
    """A chunk's audio placed on its request's timeline: its words timed from the start of the
    whole audio."""

    index: int
    start_s: float
    samples: np.ndarray  # int16, 24 kHz mono
    words: list[WordTiming]


class SpeechPlanner:
    """Checks a request against the voices, languages and limits, and plans its chunks."""

    def __init__(
        self,
        voices: VoiceLibrary,
        phonemizers: Phonemizers,
        vocab: Mapping[str, int],
        max_text_chars: int,
        first_window_frames: int = FIRST_WINDOW_FRAMES,
    ):
        """`first_window_frames`: a stream's first sentence is decoded that many frames first,
        then the rest, where the model can decode windows (0: the first sentence at once)."""
        self.voices = voices
        self.phonemizers = phonemizers
        self.vocab = vocab
        self.max_text_chars = max_text_chars
        self.first_window_frames = first_window_frames

    def validate(self, text: str, voice: str, speed: float, lang: str | None = None) -> str:
        """The request's language code, or InvalidInput: every check a request can fail, and no G2P,
        so that a server can refuse a bad request before it spends anything on it. Builds the
        language's phonemizer on its first use (a language not installed here is a 400 too)."""
        if len(text) > self.max_text_chars:
            raise TextTooLong(len(text), self.max_text_chars)
        if not speakable(text):
            raise NothingToSpeak("the text has nothing to speak: send words, not only spaces, symbols or tags")
        code = self.language_of(voice, speed, lang)
        check_script(code, text)
        return code

    def language_of(self, voice: str, speed: float, lang: str | None = None) -> str:
        """The checks of `validate` that need no text (for text still to come): the voice, the
        speed, the language, whose phonemizer is built on its first use."""
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidInput(f"speed must be between {MIN_SPEED} and {MAX_SPEED}; got {speed}")
        self.voices.validate(voice)
        code = resolve_language(lang, voice)
        self.phonemizers.get(code)
        return code

    def chunks(self, text: str, code: str) -> Iterator[Chunk]:
        """A validated text's chunks, phonemized lazily; NothingToSpeak at the first if G2P finds
        nothing to say in it. Each sentence is spoken in one pass where it fits the model."""
        return plan_chunks(text, self.phonemizers.get(code), self.vocab)

    def plan(self, text: str, voice: str, speed: float, lang: str | None = None) -> Iterator[Chunk]:
        """Validates everything first (raising InvalidInput), then yields chunks lazily."""
        chunks = self.chunks(text, self.validate(text, voice, speed, lang))
        first = next(chunks)  # raises NothingToSpeak now, not in the middle of a response
        return _prepend(first, chunks)


def _prepend(first: Chunk, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield first
    yield from rest


class Timeline:
    """Places each chunk's audio after the audio before it, so word times are absolute.

    The silence before the first chunk's first sound is trimmed to LEAD_SAMPLES: the first speech
    is heard at once. The silence after the last sound of each piece of audio, beyond
    TAIL_SAMPLES, is held back and placed before the next piece, so the pauses between chunks are
    the model's own and an answer ends soon after its last sound, whichever chunk turns out to be
    the last (engine.trim says where the sound is). Word times follow the trimmed audio.

    A chunk may come in windows of its frames (`ChunkAudio.frames_from`), added in order: each is
    placed as it comes, with the chunk's words that start in it."""

    def __init__(self) -> None:
        self.samples = 0
        self.chunks = 0
        self._held = np.zeros(0, dtype=np.int16)
        #: the current chunk's words not yet placed, timed from its start, and where it starts
        self._words: list[WordTiming] = []
        self._chunk_offset_s = 0.0

    def add(self, chunk: Chunk, audio: ChunkAudio) -> PlacedChunk:
        samples = audio.samples
        starts_at = audio.frames_from * SAMPLES_PER_FRAME  # in the chunk's own audio
        if audio.frames_from == 0:
            self._words = word_timings(chunk, audio.frames, 0.0)
        ends_chunk = starts_at + samples.shape[0] >= sum(audio.frames) * SAMPLES_PER_FRAME
        ends_at_s = (starts_at + samples.shape[0]) / SAMPLE_RATE
        taken = len(self._words) if ends_chunk else sum(1 for word in self._words if word.start_s < ends_at_s)
        # a word glued to the next ("six" and its ".") goes with it: clients group them into one
        while 0 < taken < len(self._words) and not self._words[taken - 1].whitespace:
            taken += 1
        timed, self._words = self._words[:taken], self._words[taken:]
        span = None if chunk.pause_s else voiced_span(samples)
        lead, end = 0, samples.shape[0]
        if span is not None:
            if self.samples == 0 and self._held.size == 0 and audio.frames_from == 0:
                lead = max(0, span[0] - LEAD_SAMPLES)
            # the last word keeps a frame at least: a sentence's stop is a word, and silent
            last_start = round(timed[-1].start_s * SAMPLE_RATE) - starts_at + SAMPLES_PER_FRAME if timed else 0
            end = min(end, max(span[1] + TAIL_SAMPLES, last_start))
        placed_samples = np.concatenate([self._held, _faded_in(samples[lead:end]) if lead else samples[:end]])
        start_s, end_s = self.samples / SAMPLE_RATE, (self.samples + placed_samples.shape[0]) / SAMPLE_RATE
        if audio.frames_from == 0:
            self._chunk_offset_s = (self.samples + self._held.shape[0] - lead) / SAMPLE_RATE
        # a word of a window may end in the next window: only the chunk's end bounds it
        words = [_placed(word, self._chunk_offset_s, start_s, end_s if ends_chunk else None) for word in timed]
        placed = PlacedChunk(self.chunks, start_s, placed_samples, words)
        self._held = samples[end:]
        self.samples += placed_samples.shape[0]
        self.chunks += 1
        return placed

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def _faded_in(samples: np.ndarray) -> np.ndarray:
    """A trimmed start rises from silence over FADE_SAMPLES, as the model's own edges do."""
    length = min(FADE_SAMPLES, samples.shape[0])
    faded = samples.copy()
    faded[:length] = (faded[:length] * np.linspace(0.0, 1.0, length, dtype=np.float32)).astype(np.int16)
    return faded


def _placed(word: WordTiming, offset_s: float, start_s: float, end_s: float | None) -> WordTiming:
    """A word timed from its chunk's start, placed `offset_s` later and kept inside the audio
    placed so far (a trimmed edge may cut a silent stop or a final consonant's closure); with no
    `end_s`, the audio goes on."""

    def inside(time_s: float) -> float:
        placed_s = max(time_s + offset_s, start_s)
        return round(placed_s if end_s is None else min(placed_s, end_s), 3)

    return dataclasses.replace(word, start_s=inside(word.start_s), end_s=inside(word.end_s))


Renderer = Callable[[ChunkJob], ChunkAudio]


def speak(
    planner: SpeechPlanner, render: Renderer, text: str, voice: str, speed: float = 1.0, lang: str | None = None
) -> Iterator[PlacedChunk]:
    timeline = Timeline()
    for chunk in planner.plan(text, voice, speed, lang):
        if chunk.pause_s:
            yield timeline.add(chunk, silence(chunk.pause_s))
        else:
            yield timeline.add(chunk, render(ChunkJob(token_ids=chunk.token_ids, voice=voice, speed=speed)))
