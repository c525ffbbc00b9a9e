"""The engine assembled from its settings: a backend running the model, and the planner before it.

A synthesizer process holds only a backend (`load_backend`): token ids and a voice in, PCM16 and
durations out. The HTTP face holds only a planner. Scripts, tests and benchmarks hold both in one
`KokoroEngine`, whose `speak` does a request's whole work in-process.
"""

from collections.abc import Iterator

from .config import kokoro_config
from .languages import Phonemizers
from .lexicon import load_lexicon
from .settings import ModelSettings, TextSettings
from .speech import PlacedChunk, SpeechPlanner, speak
from .synthesis import Backend, ChunkAudio, ChunkJob
from .voices import VoiceLibrary


def load_backend(settings: ModelSettings, voices: VoiceLibrary) -> Backend:
    """The model on the settings' device, run by onnxruntime or torch as they say."""
    if settings.backend == "onnx":
        from .onnx_backend import OnnxBackend

        return OnnxBackend.load(settings.cache_dir, voices, settings.onnx_threads, settings.onnx_precision)
    from .torch_backend import TorchBackend

    return TorchBackend.load(settings, voices)


def load_planner(settings: TextSettings, voices: VoiceLibrary) -> SpeechPlanner:
    """The planner the settings describe: the voices, and G2P with the lexicon if one is set."""
    vocab = kokoro_config()["vocab"]
    lexicon = load_lexicon(settings.lexicon, vocab) if settings.lexicon else {}
    return SpeechPlanner(voices, Phonemizers(lexicon), vocab, settings.max_text_chars, settings.first_window_frames)


class KokoroEngine:
    def __init__(self, backend: Backend, planner: SpeechPlanner):
        self.backend = backend
        self.planner = planner

    @classmethod
    def load(cls, model: ModelSettings, text: TextSettings | None = None) -> "KokoroEngine":
        voices = VoiceLibrary(model.voices_dir)
        return cls(load_backend(model, voices), load_planner(text or TextSettings(), voices))

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
