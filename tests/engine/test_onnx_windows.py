"""The export's front and decoder in two sessions, and windows of a chunk's frames, on a stand-in graph.

The stand-in has the export's inputs and the tensors the cut is made at: each token lasts 3
frames, and its audio is its source, sample by sample (a decoder with no reach beyond a sample),
so windows must join to exactly the whole chunk's audio."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.onnx_backend import LOUDNESS, OnnxBackend
from engine.onnx_graph import DURATIONS_TENSOR
from engine.onnx_windows import (
    ALIGNED_TENSOR,
    ENERGY_TENSOR,
    PITCH_TENSOR,
    SOURCE_TENSOR,
    cut_graphs,
)
from engine.synthesis import FADE_SAMPLES, ChunkJob, decoded_span, fade_edges
from engine.timing import SAMPLES_PER_FRAME

pytestmark = pytest.mark.unit

FRAMES_PER_TOKEN = 3


def constant(name: str, value: list, dtype: type = np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


@pytest.fixture
def stand_in_graph(tmp_path):
    nodes = [
        helper.make_node("Mul", ["tokens", "zero"], ["no_frames"]),
        helper.make_node("Add", ["no_frames", "frames_per_token"], [DURATIONS_TENSOR]),
        helper.make_node("ReduceSum", [DURATIONS_TENSOR], ["frame_total"], keepdims=0),
        helper.make_node("Reshape", ["frame_total", "one_dim"], ["frame_count"]),
        helper.make_node("Concat", ["one", "channels", "frame_count"], ["aligned_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["aligned_shape"], [ALIGNED_TENSOR]),
        helper.make_node("Mul", ["frame_count", "two"], ["curve_points"]),
        helper.make_node("Concat", ["one", "curve_points"], ["curve_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["curve_shape"], [PITCH_TENSOR]),
        helper.make_node("ConstantOfShape", ["curve_shape"], [ENERGY_TENSOR]),
        helper.make_node("Mul", ["frame_count", "samples_per_frame"], ["sample_count"]),
        helper.make_node("Reshape", ["sample_count", "scalar"], ["sample_total"]),
        helper.make_node("Range", ["start", "sample_total", "step"], ["sample_index"]),
        helper.make_node("Cast", ["sample_index"], ["sample_float"], to=TensorProto.FLOAT),
        helper.make_node("Sin", ["sample_float"], ["wave"]),
        helper.make_node("Unsqueeze", ["wave", "zero_axis"], [SOURCE_TENSOR]),
        # the decoder: its inputs all reach the audio, which is the source, sample by sample
        helper.make_node("ReduceSum", ["style"], ["style_sum"], keepdims=0),
        helper.make_node("ReduceSum", [ALIGNED_TENSOR], ["aligned_sum"], keepdims=0),
        helper.make_node("ReduceSum", [PITCH_TENSOR], ["pitch_sum"], keepdims=0),
        helper.make_node("ReduceSum", [ENERGY_TENSOR], ["energy_sum"], keepdims=0),
        helper.make_node("Sum", ["style_sum", "aligned_sum", "pitch_sum", "energy_sum"], ["inputs_sum"]),
        helper.make_node("Mul", ["inputs_sum", "zero_float"], ["nothing"]),
        helper.make_node("Mul", [SOURCE_TENSOR, "gain"], ["louder"]),
        helper.make_node("Add", ["louder", "nothing"], ["audio"]),
    ]
    constants = [
        constant("zero", [0]),
        constant("frames_per_token", [FRAMES_PER_TOKEN]),
        constant("one_dim", [1]),
        constant("one", [1]),
        constant("channels", [512]),
        constant("two", [2]),
        constant("samples_per_frame", [SAMPLES_PER_FRAME]),
        constant("scalar", np.zeros(0, np.int64).tolist()),
        constant("start", 0),
        constant("step", 1),
        constant("zero_axis", [0]),
        constant("zero_float", 0.0, np.float32),
        constant("gain", 1 / LOUDNESS, np.float32),
    ]
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, None]),
        helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 256]),
        helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("audio", TensorProto.FLOAT, None),
        helper.make_tensor_value_info(DURATIONS_TENSOR, TensorProto.INT64, None),
    ]
    graph = helper.make_graph(nodes, "stand-in", inputs, outputs, constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "graph.onnx"
    onnx.save(model, path)
    return path


class OneVoice:
    def style(self, voice: str, phoneme_count: int) -> np.ndarray:
        return np.full((1, 256), 0.5, dtype=np.float32)


@pytest.fixture
def backend(stand_in_graph):
    return OnnxBackend.from_graph(stand_in_graph, OneVoice(), threads=1)


def whole_samples(token_count: int) -> np.ndarray:
    """The stand-in's audio for a chunk: a sine over its sample indices, faded at its edges."""
    count = (token_count + 2) * FRAMES_PER_TOKEN * SAMPLES_PER_FRAME
    return fade_edges(np.sin(np.arange(count, dtype=np.float32)))


def job(frames_from: int = 0, frames_to: int | None = None) -> ChunkJob:
    return ChunkJob(token_ids=[5, 6, 7, 8], voice="af_one", speed=1.0, frames_from=frames_from, frames_to=frames_to)


def test_the_cut_graphs_are_made_once_beside_the_graph(stand_in_graph):
    front, decoder = cut_graphs(stand_in_graph)
    assert front.parent == decoder.parent == stand_in_graph.parent
    made = front.stat().st_mtime_ns, decoder.stat().st_mtime_ns
    assert cut_graphs(stand_in_graph) == (front, decoder)
    assert (front.stat().st_mtime_ns, decoder.stat().st_mtime_ns) == made
    assert [value.name for value in onnx.load(decoder).graph.input][1:] == [
        ALIGNED_TENSOR, PITCH_TENSOR, ENERGY_TENSOR, SOURCE_TENSOR
    ]  # fmt: skip


def test_a_whole_chunk_job_is_the_whole_graphs_audio_with_all_durations(backend):
    rendered = backend.render(job())
    assert rendered.frames == [FRAMES_PER_TOKEN] * 6
    np.testing.assert_allclose(rendered.samples / 32767, whole_samples(4), atol=1 / 32767)


@pytest.mark.parametrize("cut", [1, 5, 9, 17])
def test_two_windows_join_to_the_whole_chunks_length_and_samples(backend, cut):
    first, rest = backend.render(job(0, cut)), backend.render(job(cut))
    assert first.frames == rest.frames == backend.render(job()).frames
    assert len(first.samples) == cut * SAMPLES_PER_FRAME
    joined = np.concatenate([first.samples, rest.samples])
    assert joined.tobytes() == backend.render(job()).pcm16


def test_only_the_chunks_own_edges_are_faded(backend):
    middle = backend.render(job(4, 8)).samples
    expected = np.sin(np.arange(4 * SAMPLES_PER_FRAME, 8 * SAMPLES_PER_FRAME, dtype=np.float32))
    np.testing.assert_allclose(middle / 32767, expected, atol=1 / 32767)
    first = backend.render(job(0, 4)).samples
    assert first[0] == 0 and np.abs(first[-FADE_SAMPLES:]).max() > 0.5 * 32767


def test_a_window_past_the_chunks_end_stops_at_the_end(backend):
    total = 6 * FRAMES_PER_TOKEN
    assert backend.render(job(0, 1000)).pcm16 == backend.render(job()).pcm16
    assert len(backend.render(job(total - 2, 1000)).samples) == 2 * SAMPLES_PER_FRAME
    beyond = backend.render(job(total + 5))
    assert beyond.pcm16 == b"" and beyond.frames == [FRAMES_PER_TOKEN] * 6


def test_a_window_is_decoded_with_context_on_each_side_within_the_chunk():
    assert decoded_span(40, 80, 200, 16) == (24, 96)
    assert decoded_span(0, 40, 200, 16) == (0, 56)
    assert decoded_span(180, 200, 200, 16) == (164, 200)
    assert decoded_span(0, 30, 30, 16) == (0, 30)


def test_a_job_asks_for_the_whole_chunk_unless_it_names_frames():
    assert job().whole
    assert not job(0, 40).whole
    assert not job(40).whole
    with pytest.raises(ValueError):
        job(-1)
    with pytest.raises(ValueError):
        job(0, 0)


def test_fades_can_be_kept_to_either_edge():
    ones = np.ones(1000, dtype=np.float32)
    faded_in = fade_edges(ones, fade_out=False)
    assert faded_in[0] == 0 and faded_in[-1] == 1
    faded_out = fade_edges(ones, fade_in=False)
    assert faded_out[0] == 1 and faded_out[-1] == 0
    assert fade_edges(ones, fade_in=False, fade_out=False) is ones
