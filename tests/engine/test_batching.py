"""forward_batch against engine.synthesis.forward, item by item, and the length-bucketing planner.

The reference is the production single-utterance pass (`render` before its fade and PCM16
rounding), so both sides are the model's float output. Both seed the source module's noise from
each item's tokens (engine.synthesis.chunk_noise), so the noise agrees without any seeding here.

The tiny model's random weights predict F0 below kokoro's 10 Hz voicing threshold, so end to end
its source is noise only. Voiced audio cannot be compared end to end at a tight tolerance: the
source's phase accumulates F0 over the whole utterance and the generator reads the STFT phase of
near-silent bins, so a float32 rounding step in F0 moves the audio by up to ~0.7 (the tiny
model made voiced) or ~0.02 (Kokoro-82M, as much as kokoro run on 1 thread instead of 2). The
decoder is therefore also compared on its own, given identical voiced inputs.
"""

import numpy as np
import pytest
import torch

from engine.batching import BATCH_FRAMES_PER_TOKEN, decode_batch, forward_batch, group_by_length
from engine.synthesis import ChunkJob
from engine.timing import MEASURED_FRAMES_PER_TOKEN, estimated_frames
from engine.torch_forward import chunk_noise, forward

pytestmark = pytest.mark.torch

#: Float32 rounding only: sums taken in another order (batched matrix products, packed LSTMs,
#: masked instance norm) move the tiny model's audio (amplitude ~2.5) by about 3e-6.
AUDIO_ATOL = 2e-5


def make_items(*specs: tuple[int, float]) -> tuple[list[ChunkJob], list[torch.Tensor]]:
    """Random token ids and styles, one job per (token count, speed), and each job's style."""
    generator = torch.Generator().manual_seed(1)
    jobs, styles = [], []
    for count, speed in specs:
        token_ids = torch.randint(1, 178, (count,), generator=generator).tolist()
        jobs.append(ChunkJob(token_ids=token_ids, voice="random", speed=speed))
        styles.append(torch.randn(1, 256, generator=generator))
    return jobs, styles


def rendered_alone(model, jobs: list[ChunkJob], styles: list[torch.Tensor]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [forward(model, job.token_ids, style, job.speed) for job, style in zip(jobs, styles, strict=True)]


def job(token_count: int, speed: float = 1.0) -> ChunkJob:
    return ChunkJob(token_ids=[1] * token_count, voice="none", speed=speed)


def assert_same(results, references) -> None:
    assert len(results) == len(references)
    for (audio, frames), (ref_audio, ref_frames) in zip(results, references, strict=True):
        assert frames.dtype == np.int64
        np.testing.assert_array_equal(frames, ref_frames)
        assert audio.dtype == np.float32
        assert audio.shape == (int(frames.sum()) * 600,)
        np.testing.assert_allclose(audio, ref_audio, rtol=0, atol=AUDIO_ATOL)


def test_batch_matches_each_item_rendered_alone(tiny_model):
    # unsorted, clearly different lengths, speeds and styles: every item is padded differently
    items = make_items((12, 1.0), (5, 0.8), (23, 1.3))
    torch.manual_seed(0)
    results = forward_batch(tiny_model, *items)
    torch.manual_seed(1)  # the global generator plays no part
    assert len({int(frames.sum()) for _, frames in results}) == 3
    assert_same(results, rendered_alone(tiny_model, *items))


def test_front_batched_with_the_decoder_item_by_item_matches_each_item_rendered_alone(tiny_model):
    items = make_items((12, 1.0), (5, 0.8), (23, 1.3))
    results = forward_batch(tiny_model, *items, batch_decoder=False)
    assert len({int(frames.sum()) for _, frames in results}) == 3
    assert_same(results, rendered_alone(tiny_model, *items))


def test_batch_of_one_matches_rendered_alone(tiny_model):
    items = make_items((9, 1.1))
    assert_same(forward_batch(tiny_model, *items), rendered_alone(tiny_model, *items))


def decoder_inputs(frames: list[int]) -> tuple[torch.Tensor, ...]:
    """asr, f0, energy and timbre for a padded batch of `frames`, voiced: F0 of 60-180 Hz with an
    unvoiced stretch, on both sides of the voicing threshold and different per item."""
    generator = torch.Generator().manual_seed(2)
    asr = torch.randn(len(frames), 512, max(frames), generator=generator)
    time = torch.arange(2 * max(frames), dtype=torch.float32)
    f0 = 120 + 60 * torch.sin(time / torch.tensor([[3.0], [5.0], [7.0]]))
    f0[:, 4:8] = 0
    energy = torch.randn(len(frames), 2 * max(frames), generator=generator)
    timbre = torch.randn(len(frames), 128, generator=generator)
    return asr, f0, energy, timbre


def test_decoder_matches_on_identical_voiced_inputs(tiny_model):
    """The per-item harmonic source (phase, end interpolation, STFT padding) and the masked decoder."""
    frames, tokens = [7, 16, 11], [[5, 6], [7], [8, 9, 10]]
    asr, f0, energy, timbre = decoder_inputs(frames)
    with torch.inference_mode():
        alone = []
        for i, n in enumerate(frames):
            with chunk_noise(tokens[i], torch.device("cpu")):
                alone.append(
                    tiny_model.decoder(
                        asr[i : i + 1, :, :n], f0[i : i + 1, : 2 * n], energy[i : i + 1, : 2 * n], timbre[i : i + 1]
                    )
                )
        together = decode_batch(tiny_model.decoder, asr, f0, energy, timbre, torch.tensor(frames), tokens)
    for audio, reference in zip(together, alone, strict=True):
        assert audio.shape == reference.shape
        torch.testing.assert_close(audio, reference, rtol=0, atol=AUDIO_ATOL)


def test_tolerance_would_catch_different_noise(tiny_model):
    """Guards the tests above: other noise alone moves the audio far beyond AUDIO_ATOL."""
    frames = [7, 16, 11]
    inputs = (*decoder_inputs(frames), torch.tensor(frames))
    with torch.inference_mode():
        seeded = decode_batch(tiny_model.decoder, *inputs, [[5, 6], [7], [8, 9, 10]])
        reseeded = decode_batch(tiny_model.decoder, *inputs, [[5, 6], [7, 1], [8, 9, 10]])
    torch.testing.assert_close(seeded[0], reseeded[0], rtol=0, atol=0)
    assert (seeded[1] - reseeded[1]).abs().max() > 100 * AUDIO_ATOL


def test_empty_batch(tiny_model):
    assert forward_batch(tiny_model, [], []) == []


def planned(item: ChunkJob) -> float:
    return estimated_frames(len(item.token_ids), item.speed, BATCH_FRAMES_PER_TOKEN)


def test_a_batch_is_planned_at_3_frames_a_token_a_quarter_over_the_measured_figure():
    assert BATCH_FRAMES_PER_TOKEN == 3 and BATCH_FRAMES_PER_TOKEN == MEASURED_FRAMES_PER_TOKEN * 1.25
    assert planned(job(38, 2.0)) == 60


def test_group_by_length_buckets_similar_lengths_under_the_cap():
    token_counts = [3, 40, 5, 38, 4, 120, 41, 6]
    items = [job(count) for count in token_counts]
    estimates = [planned(item) for item in items]
    # in estimated frames: four short items fit, two long ones, and the longest alone exceeds it
    cap = 100 * BATCH_FRAMES_PER_TOKEN

    batches = group_by_length(items, cap)

    assert sorted(index for batch in batches for index in batch) == list(range(len(items)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(estimates[index] for index in batch) <= cap
    assert [sorted(token_counts[index] for index in batch) for batch in batches] == [
        [3, 4, 5, 6],
        [38, 40],
        [41],
        [120],
    ]


def test_group_by_length_counts_slow_speech_as_longer():
    fast, slow = (job(10, speed) for speed in (2.0, 0.5))
    assert planned(slow) == 4 * planned(fast)
    cap = 2 * planned(slow) - 1
    assert group_by_length([slow, fast, fast], cap) == [[1, 2], [0]]
