"""Cache files written whole, under a name of each writer's own, then renamed into place."""

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.files import write_whole

pytestmark = pytest.mark.unit


def test_writers_starting_together_each_write_their_own_file(tmp_path):
    both_writing = threading.Barrier(2, timeout=10)
    written_to = []
    cached = tmp_path / "graph.onnx"

    def writer(content: bytes):
        def write(partial: Path) -> None:
            written_to.append(partial)
            both_writing.wait()
            partial.write_bytes(content)

        return write

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(write_whole, cached, writer(bytes([n]) * 1000)) for n in range(2)]:
            done.result()
    assert len(set(written_to)) == 2 and {path.parent for path in written_to} == {tmp_path}
    assert list(tmp_path.iterdir()) == [cached], "no partial file is left behind"
    assert cached.read_bytes() in (b"\0" * 1000, b"\1" * 1000)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o644  # a cache made by one user is read by another


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def half_then_fail(partial: Path) -> None:
        partial.write_bytes(b"half the weights")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_whole(tmp_path / "weights.pt", half_then_fail)
    assert list(tmp_path.iterdir()) == []
