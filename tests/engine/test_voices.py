import pytest
import torch

from engine.errors import InvalidInput, UnknownVoice
from engine.voices import PACK_SHAPE, VoiceLibrary


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
