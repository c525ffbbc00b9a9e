import importlib.util
import threading
import time

import pytest

from engine.errors import LanguageUnavailable, UnknownLanguage
from engine.languages import Phonemizer, Phonemizers, resolve_language, split_at_marks


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


@pytest.fixture(scope="module")
def phonemizers() -> Phonemizers:
    """Shared, so that each language's pipeline loads once for these tests."""
    return Phonemizers()


@pytest.mark.parametrize(
    "text",
    ["Dr. Smith will see you now.", "Mr. and Mrs. Jones live on Main St. in the U.S. They wake at 7 a.m. every day.",
     "Bring fruit, e.g. apples or pears, i.e. something fresh.", "Prof. Brown met Gen. Lee at 5 p.m. on Jan. 3."],
)  # fmt: skip
@pytest.mark.parametrize("code", ["a", "b"])
def test_english_sentences_are_not_cut_after_abbreviations(phonemizers, code, text):
    assert phonemizers.get(code).sentences(text) == [text]


def test_english_sentences_still_end_at_sentence_marks(phonemizers):
    text = "It was late. Dr. Smith went home! Did you? Yes… we did."
    assert phonemizers.get("a").sentences(text) == ["It was late.", "Dr. Smith went home!", "Did you?", "Yes… we did."]


def test_languages_without_a_spacy_pipeline_split_after_marks(phonemizers):
    assert phonemizers.get("e").sentences("Hola. ¿Qué tal? Bien") == ["Hola.", "¿Qué tal?", "Bien"]
    assert split_at_marks("See e.g. this. Then Dr. Smith.") == ["See e.g. this.", "Then Dr.", "Smith."]


def test_sentence_splitting_waits_for_a_g2p_call_in_progress():
    """English splits with the spaCy pipeline its G2P runs, so the two must not run at once."""
    busy, overlapped = threading.Event(), []

    def slow_g2p(text):
        busy.set()
        time.sleep(0.05)
        busy.clear()
        return []

    def split(paragraph):
        overlapped.append(busy.is_set())
        return [paragraph]

    phonemizer = Phonemizer("test", slow_g2p, split)
    g2p_call = threading.Thread(target=phonemizer, args=("text",))
    g2p_call.start()
    busy.wait()
    phonemizer.sentences("text")
    g2p_call.join()
    assert overlapped == [False]
