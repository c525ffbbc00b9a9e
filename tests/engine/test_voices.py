import pickle
import zipfile

import numpy as np
import pytest
import torch

from engine.errors import InvalidInput, UnknownVoice
from engine.settings import PROJECT_ROOT
from engine.voices import PACK_SHAPE, VoiceLibrary, read_pack

STOCK_VOICES = PROJECT_ROOT / "voices"


@pytest.fixture
def library(tmp_path):
    torch.save(torch.zeros(PACK_SHAPE), tmp_path / "af_zero.pt")
    torch.save(torch.arange(510.0).reshape(510, 1, 1).expand(PACK_SHAPE).clone(), tmp_path / "am_rows.pt")
    torch.save(torch.zeros(3), tmp_path / "not a voice.pt")
    (tmp_path / "af_notes.txt").write_text("not a pack")
    return VoiceLibrary(tmp_path)


def test_voices_are_the_packs_found_in_the_folder(library):
    assert library.names == ["af_zero", "am_rows"]


def test_unknown_voice_lists_the_available_ones(library):
    with pytest.raises(UnknownVoice, match=r"Voice 'af_nope' not found. Available voices: \['af_zero', 'am_rows'\]"):
        library.validate("af_nope")


@pytest.mark.parametrize("name", ["../voices/af_heart", "/etc/passwd", "af_zero.pt", "", "AF_ZERO"])
def test_names_are_keys_never_paths(library, name):
    with pytest.raises(UnknownVoice):
        library.validate(name)


def test_style_row_follows_the_phoneme_count(library):
    assert library.style("am_rows", 1)[0, 0].item() == 0.0
    assert library.style("am_rows", 100)[0, 0].item() == 99.0
    assert library.style("am_rows", 10_000)[0, 0].item() == 509.0
    assert tuple(library.style("am_rows", 5).shape) == (1, 256)


def test_a_blend_averages_its_voices(library):
    assert library.style("af_zero,am_rows", 101)[0, 0].item() == pytest.approx(50.0)


def test_a_blend_has_a_bounded_size(library):
    with pytest.raises(InvalidInput, match="at most"):
        library.validate(",".join(["af_zero"] * 5))


def test_packs_read_without_torch_equal_torch_load(tmp_path):
    strided = torch.arange(24.0).reshape(2, 3, 4).transpose(0, 2)[1:]  # a view: offset and strides
    torch.save(strided, tmp_path / "view.pt")
    np.testing.assert_array_equal(read_pack(tmp_path / "view.pt"), strided.numpy())
    stock = sorted(STOCK_VOICES.glob("*.pt"))
    assert len(stock) == 54
    for path in stock:
        np.testing.assert_array_equal(read_pack(path), torch.load(path, weights_only=True).numpy())


def test_a_pack_that_holds_anything_but_a_tensor_is_refused(tmp_path):
    torch.save({"style": torch.zeros(3), "note": print}, tmp_path / "odd.pt")
    with pytest.raises(pickle.UnpicklingError, match="may not hold .*print"):
        read_pack(tmp_path / "odd.pt")
    (tmp_path / "plain.pt").write_bytes(b"not a zip")
    with pytest.raises(zipfile.BadZipFile):
        read_pack(tmp_path / "plain.pt")
