"""The server-wide lexicon: read and checked at start, and the last word on how a word is said."""

import json

import pytest

from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.lexicon import LexiconError, load_lexicon
from engine.settings import ModelSettings, TextSettings
from engine.tts import load_planner
from engine.voices import VoiceLibrary

pytestmark = pytest.mark.unit

VOCAB = kokoro_config()["vocab"]


def written(tmp_path, entries) -> object:
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


def test_languages_are_read_by_code_or_name_and_words_by_their_case_folded_spelling(tmp_path):
    lexicon = load_lexicon(written(tmp_path, {"en-us": {"Kokoro": "kˈOkəɹO"}, "f": {"Kokoro": "kɔkɔʁo"}}), VOCAB)
    assert lexicon == {"a": {"kokoro": "kˈOkəɹO"}, "f": {"kokoro": "kɔkɔʁo"}}


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        ({"klingon": {"Kokoro": "kˈOkəɹO"}}, "unknown lang 'klingon'"),
        ({"a": {"Kokoro": "kˈOkə§O"}}, "phonemes the model does not know: §"),
        ({"a": {"Kokoro": " "}}, "no phonemes"),
        ({"a": ["Kokoro"]}, "must map words to phonemes"),
        (["Kokoro"], "expected an object of languages"),
    ],
)
def test_a_wrong_lexicon_is_refused_at_start_saying_what_is_wrong(tmp_path, entries, complaint):
    with pytest.raises(LexiconError, match=complaint):
        load_lexicon(written(tmp_path, entries), VOCAB)


def test_a_lexicon_that_is_no_json_is_refused(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LexiconError, match="lexicon.json"):
        load_lexicon(path, VOCAB)


def test_the_lexicon_says_the_word_in_any_case_and_keeps_the_marks_around_it():
    english = Phonemizers({"a": {"kokoro": "kˈOkəɹO"}}).get("a")
    words = [(w.text, w.phonemes) for w in english("Kokoro, or KOKORO.")]
    assert words == [("Kokoro", "kˈOkəɹO"), (",", ","), ("or", "ɔɹ"), ("KOKORO", "kˈOkəɹO"), (".", ".")]


def test_the_lexicon_reaches_the_word_by_word_languages_too():
    spanish = Phonemizers({"e": {"kokoro": "kˈokoɾo"}}).get("e")
    assert [(w.text, w.phonemes) for w in spanish("Hola Kokoro,")][1] == ("Kokoro,", "kˈokoɾo,")  # espeak: kokˈoɾo


def test_the_settings_lexicon_reaches_the_planner(tmp_path):
    settings = TextSettings.from_env({"KOKORO_LEXICON": str(written(tmp_path, {"a": {"Kokoro": "kˈOkəɹO"}}))})
    planner = load_planner(settings, VoiceLibrary(ModelSettings().voices_dir))
    (chunk,) = planner.plan("Kokoro speaks.", "af_heart", 1.0)
    assert (chunk.words[0].text, chunk.words[0].phonemes) == ("Kokoro", "kˈOkəɹO")
