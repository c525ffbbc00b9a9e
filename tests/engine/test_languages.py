import importlib.util

import pytest

from engine.errors import LanguageUnavailable, UnknownLanguage
from engine.languages import Phonemizers, resolve_language


@pytest.mark.parametrize(
    ("lang", "voice", "code"),
    [(None, "af_heart", "a"), (None, "bm_george", "b"), ("", "ef_dora", "e"), ("en-gb", "af_heart", "b"),
     ("EN-US", "bf_emma", "a"), ("fr", "af_heart", "f"), ("j", "af_heart", "j"), ("pt-br", "af_heart", "p")],
)  # fmt: skip
def test_language_comes_from_the_request_or_the_voice_prefix(lang, voice, code):
    assert resolve_language(lang, voice) == code


def test_unknown_language_names_the_known_codes():
    with pytest.raises(UnknownLanguage, match="a, b, e, f, h, i, j, p, z"):
        resolve_language("klingon", "af_heart")


def test_english_phonemizes_offline_and_keeps_the_users_words():
    words = Phonemizers().get("a")("I have 25 cats.")
    assert [w.text for w in words] == ["I", "have", "25", "cats", "."]
    assert words[2].phonemes.startswith("twˈɛnti")


def test_spanish_goes_through_espeak_word_by_word():
    words = Phonemizers().get("e")("Hola mundo")
    assert [w.text for w in words] == ["Hola", "mundo"]
    assert all(w.phonemes for w in words)


@pytest.mark.skipif(importlib.util.find_spec("pyopenjtalk") is not None, reason="Japanese G2P is installed here")
def test_a_language_without_its_g2p_is_a_clear_error():
    with pytest.raises(LanguageUnavailable, match="Japanese"):
        Phonemizers().get("j")
