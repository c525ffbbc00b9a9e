import numpy as np
import pytest
import torch

from engine.synthesis import ChunkJob
from engine.torch_backend import TorchBackend
from engine.voices import PACK_SHAPE, VoiceLibrary

pytestmark = pytest.mark.torch


@pytest.fixture
def voices(tmp_path):
    torch.manual_seed(3)
    for name in ("af_one", "am_two"):
        torch.save(torch.randn(PACK_SHAPE) * 0.1, tmp_path / f"{name}.pt")
    return VoiceLibrary(tmp_path)


@pytest.mark.parametrize("batched_stages", ["all", "front"])
def test_batched_and_one_by_one_backends_render_the_same_chunks(tiny_model, voices, batched_stages):
    """Random weights: checks that the batch path keeps order and items apart, not speech."""
    jobs = [
        ChunkJob(token_ids=[15, 25], voice="am_two", speed=1.3),
        ChunkJob(token_ids=[10, 20, 30, 40, 50, 60, 70], voice="af_one", speed=1.0),
        ChunkJob(token_ids=list(range(20, 32)), voice="af_one", speed=0.9),
    ]
    one_by_one = TorchBackend(tiny_model, "tiny", voices, batched_stages="off")
    batched = TorchBackend(tiny_model, "tiny", voices, batched_stages=batched_stages, max_batch_frames=10_000)
    expected = one_by_one.render_many(jobs)
    got = batched.render_many(jobs)
    assert [r.frames for r in got] == [r.frames for r in expected]
    for batched_item, single_item in zip(got, expected, strict=True):
        # the float outputs agree within 2e-5 (test_batching), which can move a rounding by one step
        difference = batched_item.samples.astype(np.int32) - single_item.samples.astype(np.int32)
        assert np.abs(difference).max() <= 1


def test_a_batch_over_the_frame_cap_is_split_and_keeps_the_callers_order(tiny_model, voices):
    jobs = [
        ChunkJob(token_ids=list(range(10, 30)), voice="af_one", speed=1.0),
        ChunkJob(token_ids=[11, 12], voice="am_two", speed=1.0),
        ChunkJob(token_ids=list(range(10, 20)), voice="am_two", speed=1.0),
    ]
    backend = TorchBackend(tiny_model, "tiny", voices, batched_stages="all", max_batch_frames=40)
    rendered = backend.render_many(jobs)
    assert [len(r.frames) for r in rendered] == [22, 4, 12]


def test_the_torch_backend_renders_whole_chunks_only_and_says_so(tiny_model, voices):
    backend = TorchBackend(tiny_model, "tiny", voices)
    assert backend.decodes_windows is False
    with pytest.raises(ValueError, match="whole chunks only"):
        backend.render_many([ChunkJob(token_ids=[10, 20], voice="af_one", speed=1.0, frames_to=4)])
