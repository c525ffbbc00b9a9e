import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.languages.pinyin_phrases import json_object_in_pieces
from engine.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        " { } ",
        '{"a": 1}',
        '{\n"一丁": [\n["yī"],\n["dīng"]\n],\n"b":{"c":[1,2.5,null,true]}\n}\n',
        '{"\\u4e00":"x"}',
    ],
)
def test_an_object_read_in_pieces_is_what_json_reads(text):
    assert json_object_in_pieces(text) == json.loads(text)


@pytest.mark.parametrize("text", ["[]", '{"a" 1}', '{"a": 1 "b": 2}', '{"a": 1', "{1: 2}", '{"a": }'])
def test_what_is_no_json_object_is_a_value_error(text):
    with pytest.raises(ValueError):
        json_object_in_pieces(text)


def test_pypinyins_phrases_read_in_pieces_are_the_ones_it_reads_itself():
    path = Path(importlib.util.find_spec("pypinyin").submodule_search_locations[0]) / "phrases_dict.json"
    text = path.read_text(encoding="utf8")
    assert json_object_in_pieces(text) == json.loads(text)


def test_pypinyin_reads_its_phrases_from_the_module_installed_before_it():
    """In a fresh interpreter, where pypinyin has not read its dictionary yet: it takes the one
    installed, and reads a phrase's polyphone as the phrase says (行 is xíng alone, háng in 银行)."""
    check = (
        "from engine.languages import pinyin_phrases\n"
        "pinyin_phrases.install()\n"
        "from pypinyin import lazy_pinyin, phrases_dict\n"
        "assert not hasattr(phrases_dict, '_load_phrases_dict'), 'pypinyin read its dictionary itself'\n"
        "print(' '.join(lazy_pinyin('银行')))\n"
    )
    said = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert said.stdout.split() == ["yin", "hang"]
