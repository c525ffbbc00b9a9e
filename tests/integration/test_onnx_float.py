"""The export's weights in float speak as the int8 export does: same words, same timing within a
frame here and there (its activations are no longer rounded to 8 bits, so a duration's sum of
sigmoids can cross a rounding boundary), the same spectrogram."""

import onnx
import pytest

from benchmarks.weights_parity import aligned_cosine, log_mel
from engine.onnx_backend import OnnxBackend, prepared_graph
from engine.settings import ModelSettings
from engine.synthesis import ChunkJob

pytestmark = pytest.mark.weights

SENTENCES = (
    "Every morning the harbour wakes before the town does; by noon, the tide has turned again.",
    "The quick brown fox jumps over the lazy dog.",
)
#: measured on these sentences in two voices: 0 to 3 of 49 to 89 tokens differ, each by one frame
#: (benchmarks/onnx_precision.py: 74 of 2,006 tokens in 510-phoneme chunks, by up to 5 frames)
MOST_TOKENS_WITH_OTHER_DURATIONS = 0.1
#: the int8 graph against the float one along the time-warping path: 0.993 to 0.996 measured
MIN_ALIGNED_COSINE = 0.98


@pytest.fixture(scope="module")
def float_graph():
    return prepared_graph(ModelSettings.from_env().cache_dir, "float")


@pytest.fixture(scope="module")
def backends(engine, float_graph) -> tuple[OnnxBackend, OnnxBackend]:
    """The float graph's backend and the int8 one's."""
    int8 = OnnxBackend.load(ModelSettings.from_env().cache_dir, engine.backend.voices, precision="int8")
    return OnnxBackend.from_graph(float_graph, engine.backend.voices), int8


def test_the_float_graph_is_cached_under_its_own_name_with_no_integer_arithmetic(float_graph):
    assert ".float." in float_graph.name
    assert float_graph == prepared_graph(float_graph.parent, "float")
    kinds = {node.op_type for node in onnx.load(float_graph, load_external_data=False).graph.node}
    assert not kinds & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM"}


@pytest.mark.parametrize("voice", ["af_heart", "bm_george"])
def test_the_float_graph_speaks_as_the_int8_graph_does(engine, backends, voice):
    ours, int8 = backends
    for sentence in SENTENCES:
        for chunk in engine.planner.plan(sentence, voice, 1.0):
            job = ChunkJob(token_ids=chunk.token_ids, voice=voice, speed=1.0)
            float_audio, int8_audio = ours.render(job), int8.render(job)
            differences = [abs(a - b) for a, b in zip(float_audio.frames, int8_audio.frames, strict=True)]
            assert max(differences) <= 1
            assert sum(d > 0 for d in differences) <= MOST_TOKENS_WITH_OTHER_DURATIONS * len(differences)
            float_mel, int8_mel = log_mel(float_audio.samples / 32768.0), log_mel(int8_audio.samples / 32768.0)
            assert aligned_cosine(float_mel, int8_mel) > MIN_ALIGNED_COSINE
