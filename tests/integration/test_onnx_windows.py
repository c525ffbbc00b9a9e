"""The real export in two sessions: a whole chunk is the whole graph's audio, and windows join without a step."""

import itertools

import numpy as np
import onnxruntime
import pytest

from engine.onnx_backend import LOUDNESS, prepared_graph
from engine.settings import ModelSettings
from engine.synthesis import ChunkJob, finish

pytestmark = pytest.mark.weights

TEXT = "Every morning the lighthouse keeper climbed the narrow stairs to polish the great brass lamp."


@pytest.fixture(scope="module")
def job(engine) -> ChunkJob:
    (chunk,) = engine.planner.plan(TEXT, "af_heart", 1.0)
    return ChunkJob(token_ids=chunk.token_ids, voice="af_heart", speed=1.0)


def test_front_then_decoder_give_the_whole_graphs_samples_and_durations(engine, job):
    whole = onnxruntime.InferenceSession(str(prepared_graph(ModelSettings.from_env().cache_dir)))
    samples, frames = whole.run(
        None,
        {
            "tokens": np.array([[0, *job.token_ids, 0]], dtype=np.int64),
            "style": engine.backend.voices.style(job.voice, len(job.token_ids)).reshape(1, -1),
            "speed": np.array([job.speed], dtype=np.float32),
        },
    )
    expected = finish(samples.reshape(-1) * np.float32(LOUDNESS), frames.reshape(-1).astype(np.int64))
    assert engine.backend.render(job) == expected


def test_windows_join_to_the_chunks_length_without_a_step_the_whole_render_lacks(engine, job):
    whole = engine.backend.render(job)
    count = sum(whole.frames)
    cuts = [0, 40, 80, count]
    pieces = [
        engine.backend.render(job.model_copy(update={"frames_from": a, "frames_to": b}))
        for a, b in itertools.pairwise(cuts)
    ]
    assert all(piece.frames == whole.frames for piece in pieces)
    joined = np.concatenate([piece.samples for piece in pieces]).astype(np.int32)
    assert joined.shape == whole.samples.shape
    largest_step = np.abs(np.diff(whole.samples.astype(np.int32))).max()
    for cut in cuts[1:-1]:
        assert abs(joined[cut * 600] - joined[cut * 600 - 1]) <= largest_step
