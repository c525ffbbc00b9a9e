import collections
import dataclasses
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from engine.errors import EngineError, InvalidInput, UnknownVoice
from engine.settings import PROJECT_ROOT
from engine.voices import PACK_SHAPE, VoiceLibrary, read_pack

pytestmark = pytest.mark.torch

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


@pytest.mark.parametrize("voice", ["af_zero+am_rows", "af_zero(1)+am_rows(1)", "af_zero(0.5), am_rows(0.5)"])
def test_a_blend_joined_by_pluses_or_with_equal_weights_is_the_same_blend(library, voice):
    np.testing.assert_array_equal(library.style(voice, 101), library.style("af_zero,am_rows", 101))


def test_a_weighted_blend_is_the_weighted_mean(library):
    assert library.style("af_zero(3)+am_rows(1)", 101)[0, 0].item() == pytest.approx(25.0)
    assert library.style("am_rows(2.5)", 101)[0, 0].item() == 100.0
    assert library.blend("af_zero(3) + am_rows") == [("af_zero", 3.0), ("am_rows", 1.0)]


@pytest.mark.parametrize("weight", ["0", "-1", "x", "nan", "inf", "", "\u0662", "1e3", "1_0", "9" * 400])
def test_a_weight_is_a_number_above_zero(library, weight):
    with pytest.raises(InvalidInput, match="weight is a number above 0"):
        library.validate(f"af_zero({weight})+am_rows")


@pytest.mark.parametrize("voice", ["af_zero(2", "af_zero)2(", "af_zero(1)(2)", "af_nope(2)"])
def test_a_malformed_or_unknown_part_is_an_unknown_voice(library, voice):
    with pytest.raises(UnknownVoice):
        library.validate(voice)


def test_a_blend_has_a_bounded_size(library):
    with pytest.raises(InvalidInput, match="at most"):
        library.validate(",".join(["af_zero"] * 5))
    with pytest.raises(InvalidInput, match="at most"):
        library.validate("+".join(["af_zero(2)"] * 5))


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


@dataclasses.dataclass(frozen=True)
class CraftedPack:
    """A pack written by hand, as torch.save lays one out, with any number in it forged.

    The storage holds `stored` float32 elements 0, 1, 2...; the pickle declares `declared` of
    them and builds one tensor of `size` and `stride` at `offset`."""

    size: object = (2, 3)
    stride: object = (3, 1)
    offset: object = 0
    declared: object = 6
    stored: int = 6
    kind: object = torch.FloatStorage
    key: object = "0"
    storage: object = "the storage"
    byteorder: bytes = b"little"

    def write(self, path):
        data = io.BytesIO()
        _PackPickler(data, protocol=2).dump(self)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("pack/data.pkl", data.getvalue())
            archive.writestr("pack/byteorder", self.byteorder)
            archive.writestr("pack/version", b"3\n")
            archive.writestr("pack/data/0", np.arange(self.stored, dtype="<f4").tobytes())
        return path

    def __reduce__(self):
        storage = _Storage(self) if self.storage == "the storage" else self.storage
        args = (storage, self.offset, self.size, self.stride, False, collections.OrderedDict())
        return torch._utils._rebuild_tensor_v2, args


@dataclasses.dataclass(frozen=True)
class _Storage:
    pack: CraftedPack


class _PackPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.pack.kind, obj.pack.key, "cpu", obj.pack.declared)
        return None


def test_a_crafted_pack_reads_as_torch_loads_it(tmp_path):
    path = CraftedPack(size=(2, 2), stride=(1, 3), offset=1).write(tmp_path / "crafted.pt")
    np.testing.assert_array_equal(read_pack(path), torch.load(path, weights_only=True).numpy())
    np.testing.assert_array_equal(read_pack(path), [[1, 4], [2, 5]])


@pytest.mark.parametrize(
    ("size", "stride", "offset", "expected"),
    [
        ((2, 3), (0, 1), 0, [[0, 1, 2], [0, 1, 2]]),  # expanded: a stride of 0
        ((3, 2), (1, 3), 0, [[0, 3], [1, 4], [2, 5]]),  # transposed
        ((0, 3), (3, 1), 6, np.zeros((0, 3))),  # empty, at the very end
        ((2, 1), (3, 2**62), 2, [[2], [5]]),  # a dimension of one is never stepped
    ],
)
def test_views_inside_their_storage_are_read_as_torch_reads_them(tmp_path, size, stride, offset, expected):
    path = CraftedPack(size=size, stride=stride, offset=offset).write(tmp_path / "view.pt")
    np.testing.assert_array_equal(read_pack(path), expected)
    np.testing.assert_array_equal(read_pack(path), torch.load(path, weights_only=True).numpy())


@pytest.mark.parametrize(
    ("forged", "problem"),
    [
        (dict(offset=-1), "offset -1 of a storage of 6 elements"),
        (dict(offset=7), "offset 7 of a storage of 6 elements"),
        (dict(offset=2**63), "offset 9223372036854775808 of a storage"),
        (dict(offset=1), "6 elements at offset 1 of a storage of 6"),
        (dict(size=(3, 3)), "9 elements at offset 0 of a storage of 6"),
        (dict(size=(6, 6), stride=(0, 0)), "36 elements at offset 0 of a storage of 6"),
        (dict(size=(2**32, 2**32), stride=(0, 0)), r"size \(4294967296, 4294967296\) on a storage of 6"),
        (dict(size=(0, 2**100)), "size .* on a storage of 6"),
        (dict(size=(-1, 3)), r"size \(-1, 3\) on a storage of 6"),
        (dict(size=(2.0, 3)), r"size \(2.0, 3\) on a storage of 6"),
        (dict(size=(2, 2), stride=(5, 1)), r"size \(2, 2\) and stride \(5, 1\) reaching element 6 of 6"),
        (dict(size=(2, 2), stride=(1, 5), offset=1), "reaching element 7 of 6"),
        (dict(size=(2, 3), stride=(-3, 1), offset=3), r"stride \(-3, 1\)"),
        (dict(size=(2, 2), stride=(2**62, 1)), "reaching element 4611686018427387905 of 6"),
        (dict(stride=(3,)), r"size \(2, 3\) and stride \(3,\)"),
        (dict(size=[2, 3]), r"size \[2, 3\] and stride \(3, 1\)"),
        (dict(size=(1,) * 9, stride=(1,) * 9), "size"),
        (dict(stored=5), "declares 6 elements of 4 bytes in a storage of 20 bytes"),
        (dict(stored=7), "declares 6 elements of 4 bytes in a storage of 28 bytes"),
        (dict(declared=-6), "declares -6 elements"),
        (dict(declared=6.0), "declares 6.0 elements"),
        (dict(kind=torch.IntStorage), "holds a 'IntStorage' storage; a voice pack's is one of FloatStorage, Half"),
        (dict(kind=torch.BFloat16Storage), "holds a 'BFloat16Storage' storage"),
        (dict(kind="ComplexFloatStorage"), "holds a 'ComplexFloatStorage' storage"),
        (dict(kind=3), "holds a 3 storage"),
        (dict(key="1"), "has no storage record '1'"),
        (dict(key="../0"), "has no storage record '../0'"),
        (dict(storage=[0.0] * 6), "builds a tensor on a list, not on one of its storages"),
        (dict(byteorder=b"big"), "was saved big-endian"),
    ],
)
def test_a_pack_whose_numbers_do_not_fit_its_storage_is_refused(tmp_path, forged, problem):
    path = CraftedPack(**forged).write(tmp_path / "af_forged.pt")
    with pytest.raises(EngineError, match=f"voice pack af_forged.pt .*{problem}.*; save a voice as torch.save"):
        read_pack(path)
