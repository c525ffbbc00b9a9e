import ctypes
import ctypes.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from engine import onnx_backend
from engine.onnx_backend import prepared_graph_name, rewrite_source, trim_malloc, write_prepared_graph
from engine.onnx_graph import DURATIONS_TENSOR
from engine.pypi_onnx import ONNX_SHA256

pytestmark = pytest.mark.unit

REWRITE = "def with_durations(model): ...\n"


def test_the_cached_graphs_name_follows_the_export_the_cpu_and_the_rewrite():
    name = prepared_graph_name(ONNX_SHA256, True, REWRITE)
    assert name == prepared_graph_name(ONNX_SHA256, True, REWRITE)
    assert name != prepared_graph_name(ONNX_SHA256, True, REWRITE + "# one more line\n")
    assert name != prepared_graph_name(ONNX_SHA256, False, REWRITE)
    assert name != prepared_graph_name("0" * 64, True, REWRITE)
    assert name.startswith(f"kokoro-v1.0.int8.durations.vnni-matmuls-{ONNX_SHA256[:16]}-rewrite-")
    assert name.endswith(".onnx")


def test_a_float_graph_is_cached_under_its_precision_the_same_on_every_cpu():
    int8 = prepared_graph_name(ONNX_SHA256, True, REWRITE)
    float_graph = prepared_graph_name(ONNX_SHA256, True, REWRITE, "float")
    assert float_graph == prepared_graph_name(ONNX_SHA256, False, REWRITE, "float"), "no integer products in it"
    assert len({int8, float_graph, prepared_graph_name(ONNX_SHA256, True, REWRITE, "fp16")}) == 3
    assert float_graph.startswith(f"kokoro-v1.0.float.durations-{ONNX_SHA256[:16]}-rewrite-")


def test_the_rewrites_version_is_read_from_the_code_that_prepares_the_graph():
    code = rewrite_source()
    assert "def convs_as_matmuls(" in code
    assert "def write_prepared_graph(" in code
    assert "def dequantise(" not in code, "the int8 graph does not change with the float rewrite"
    assert "def dequantise(" in rewrite_source("float")


@pytest.fixture
def tiny_export(monkeypatch):
    """A two-node graph with the export's durations tensor, standing in for the 88 MB export."""
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, [None])
    audio = helper.make_tensor_value_info("audio", TensorProto.INT64, [None])
    nodes = [
        helper.make_node("Identity", ["tokens"], [DURATIONS_TENSOR]),
        helper.make_node("Identity", [DURATIONS_TENSOR], ["audio"]),
    ]
    export = helper.make_model(helper.make_graph(nodes, "export", [tokens], [audio]))
    monkeypatch.setattr(onnx_backend, "onnx_bytes", export.SerializeToString)


def test_writers_starting_together_each_write_their_own_file(tiny_export, monkeypatch, tmp_path):
    both_writing = threading.Barrier(2, timeout=10)
    written_to = []
    save = onnx.save

    def save_when_both_write(model, destination):
        written_to.append(destination)
        both_writing.wait()
        save(model, destination)

    monkeypatch.setattr(onnx, "save", save_when_both_write)
    graph = tmp_path / "graph.onnx"
    with ThreadPoolExecutor(2) as pool:
        for writer in [pool.submit(write_prepared_graph, graph, False) for _ in range(2)]:
            writer.result()
    assert len(set(written_to)) == 2
    assert {Path(name).parent for name in written_to} == {tmp_path}
    assert list(tmp_path.iterdir()) == [graph], "no partial file is left behind"
    assert [output.name for output in onnx.load(graph).graph.output] == ["audio", DURATIONS_TENSOR]


def test_a_failed_write_leaves_nothing_behind(tiny_export, monkeypatch, tmp_path):
    def save_then_fail(model, destination):
        Path(destination).write_bytes(b"half a graph")
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_prepared_graph(tmp_path / "graph.onnx", False)
    assert list(tmp_path.iterdir()) == []


class GlibcStandIn:
    def __init__(self):
        self.trims = []

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(pad)
        return 1


def test_malloc_trim_is_called_where_the_c_library_has_it(monkeypatch):
    glibc = GlibcStandIn()
    monkeypatch.setattr(ctypes.util, "find_library", {"c": "libc.so.6"}.get)
    monkeypatch.setattr(ctypes, "CDLL", {"libc.so.6": glibc}.__getitem__)
    trim_malloc()
    assert glibc.trims == [0]


def test_nothing_is_trimmed_where_the_c_library_has_no_malloc_trim(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", {"c": "libc.musl-x86_64.so.1"}.get)
    monkeypatch.setattr(ctypes, "CDLL", {"libc.musl-x86_64.so.1": object()}.__getitem__)
    trim_malloc()


def test_nothing_is_trimmed_where_no_c_library_is_found(monkeypatch):
    def no_library(name):
        raise AssertionError(f"CDLL({name!r}) was called")

    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    trim_malloc()
