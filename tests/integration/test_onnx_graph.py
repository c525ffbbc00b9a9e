"""The prepared export speaks exactly as PyPI's own graph: the convolutions' rewrite changes no sample."""

import onnx
import pytest

from engine.device import cpu_has_vnni
from engine.onnx_backend import OnnxBackend, prepared_graph, write_prepared_graph
from engine.settings import ModelSettings
from engine.synthesis import ChunkJob

pytestmark = [
    pytest.mark.weights,
    pytest.mark.skipif(not cpu_has_vnni(), reason="the convolutions are rewritten only on CPUs with VNNI"),
]

TEXT = "Every morning the harbour wakes before the town does; by noon, the tide has turned again."


def test_the_rewritten_convolutions_give_the_exports_own_audio_and_durations(engine, tmp_path):
    unrewritten = tmp_path / "export-with-durations.onnx"
    write_prepared_graph(unrewritten, vnni=False)
    reference = OnnxBackend.from_graph(unrewritten, engine.backend.voices)
    prepared = onnx.load(prepared_graph(ModelSettings.from_env().cache_dir), load_external_data=False)
    assert [node.op_type for node in prepared.graph.node].count("ConvInteger") == 3  # of 87: strided or grouped
    for chunk in engine.planner.plan(TEXT, "af_heart", 1.0):
        for voice, speed in (("af_heart", 1.0), ("bm_george", 1.3)):
            job = ChunkJob(token_ids=chunk.token_ids, voice=voice, speed=speed)
            ours, theirs = engine.backend.render(job), reference.render(job)
            assert ours.frames == theirs.frames
            assert ours.pcm16 == theirs.pcm16
