"""Is the model converted from the PyPI ONNX export the real Kokoro-82M? Compare its audio with
onnxruntime's, run on that same ONNX file, for the same tokens and voice.

Both graphs predict the same durations, but the decoder's harmonic source draws random noise
and phase, so the waveforms differ sample by sample; their log-mel spectrograms must not. The
ONNX audio is 1.5x louder (its iSTFT skips window normalisation), so each spectrogram is taken
relative to its own mean level. As a control, the same text in another voice shows how far
apart two different renderings are on this measure.

Run: python -m benchmarks.weights_parity
"""

from dataclasses import dataclass

import numpy as np
import onnxruntime
import torch

from engine.languages import Phonemizers
from engine.settings import Settings
from engine.speech import SpeechPlanner
from engine.synthesis import render
from engine.voices import VoiceLibrary
from engine.weights import load_model, onnx_bytes

SENTENCE = "The quick brown fox jumps over the lazy dog."
N_FFT, HOP, N_MELS = 1024, 256, 80


@dataclass(frozen=True)
class Parity:
    cosine: float  # log-mel cosine similarity, torch vs onnxruntime, same voice
    control_cosine: float  # torch in the voice vs torch in another voice
    torch_seconds: float
    onnx_seconds: float


def mel_filterbank(sample_rate: int = 24_000) -> np.ndarray:
    """Triangular filters on the HTK mel scale (as librosa's htk=True), [N_MELS, N_FFT // 2 + 1]."""
    to_mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)  # noqa: E731
    to_hz = lambda mel: 700.0 * (10 ** (mel / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), N_MELS + 2))
    bins = np.linspace(0, sample_rate / 2, N_FFT // 2 + 1)
    rising = (bins[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - bins[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(audio: np.ndarray) -> np.ndarray:
    spectrum = torch.stft(
        torch.from_numpy(audio.astype(np.float32)), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True
    )
    power = spectrum.abs().numpy() ** 2
    mel = np.log(mel_filterbank() @ power + 1e-6)
    return mel - mel.mean()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    frames = min(a.shape[1], b.shape[1])
    a, b = a[:, :frames].ravel(), b[:, :frames].ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def measure(voice: str = "af_heart", control_voice: str = "am_michael") -> Parity:
    settings = Settings.from_env()
    model = load_model("pypi", None, settings.cache_dir, "cpu").model
    voices = VoiceLibrary(settings.voices_dir)
    planner = SpeechPlanner(voices, Phonemizers(), model.vocab, settings.max_text_chars)
    token_ids = next(planner.plan(SENTENCE, voice, 1.0)).token_ids
    style = voices.style(voice, len(token_ids))

    torch_audio = render(model, token_ids, style, 1.0).pcm16 / 32768.0
    control_audio = render(model, token_ids, voices.style(control_voice, len(token_ids)), 1.0).pcm16 / 32768.0
    session = onnxruntime.InferenceSession(onnx_bytes())
    (onnx_audio,) = session.run(
        None,
        {
            "tokens": np.array([[0, *token_ids, 0]], dtype=np.int64),
            "style": style.numpy().reshape(1, 256),
            "speed": np.array([1.0], dtype=np.float32),
        },
    )
    reference = log_mel(torch_audio)
    return Parity(
        cosine=cosine(reference, log_mel(onnx_audio.reshape(-1))),
        control_cosine=cosine(reference, log_mel(control_audio)),
        torch_seconds=torch_audio.shape[0] / 24_000,
        onnx_seconds=onnx_audio.size / 24_000,
    )


def main() -> None:
    parity = measure()
    print(f"sentence: {SENTENCE!r}, voice af_heart, KModel converted from the PyPI kokoro-v1.0.int8.onnx")
    print(f"audio length   torch {parity.torch_seconds:.3f} s   onnxruntime {parity.onnx_seconds:.3f} s")
    print(f"log-mel cosine torch vs onnxruntime (same voice):     {parity.cosine:.4f}")
    print(f"log-mel cosine torch af_heart vs am_michael (control): {parity.control_cosine:.4f}")


if __name__ == "__main__":
    main()
