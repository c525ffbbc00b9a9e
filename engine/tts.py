"""The engine assembled from settings: a backend running the model, and the planner before it.

A synthesizer process holds only a backend (`load_backend`): token ids and a voice in, PCM16 and
durations out. The HTTP face holds only a planner. Scripts, tests and benchmarks hold both in one
`KokoroEngine`, whose `speak` does a request's whole work in-process.
"""

from collections.abc import Iterator

from .config import kokoro_config
from .device import choose_device
from .languages import Phonemizers
from .lexicon import load_lexicon
from .settings import Settings
from .speech import PlacedChunk, SpeechPlanner, speak
from .synthesis import Backend, ChunkAudio, ChunkJob
from .voices import VoiceLibrary


def load_backend(settings: Settings, voices: VoiceLibrary) -> Backend:
    """The model on the device the settings choose, run by onnxruntime or torch as they say."""
    device = choose_device(settings.device)
    if settings.backend_for(device) == "onnx":
        from .onnx_backend import OnnxBackend

        return OnnxBackend.load(settings.cache_dir, voices, settings.onnx_threads)
    from .torch_backend import TorchBackend

    return TorchBackend.load(settings, device, voices)


def load_planner(settings: Settings, voices: VoiceLibrary) -> SpeechPlanner:
    """The planner the settings describe: the voices, and G2P with the lexicon if one is set."""
    vocab = kokoro_config()["vocab"]
    lexicon = load_lexicon(settings.lexicon, vocab) if settings.lexicon else {}
    return SpeechPlanner(voices, Phonemizers(lexicon), vocab, settings.max_text_chars, settings.first_chunk_phonemes)


class KokoroEngine:
    def __init__(self, backend: Backend, planner: SpeechPlanner):
        self.backend = backend
        self.planner = planner

    @classmethod
    def from_settings(cls, settings: Settings) -> "KokoroEngine":
        voices = VoiceLibrary(settings.voices_dir)
        return cls(load_backend(settings, voices), load_planner(settings, voices))

    @property
    def device(self) -> str:
        return self.backend.device

    @property
    def source(self) -> str:
        return self.backend.source

    def render(self, job: ChunkJob) -> ChunkAudio:
        return self.backend.render_many([job])[0]

    def speak(self, text: str, voice: str, speed: float = 1.0, lang: str | None = None) -> Iterator[PlacedChunk]:
        return speak(self.planner, self.render, text, voice, speed, lang)
