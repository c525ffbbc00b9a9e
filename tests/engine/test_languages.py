import gc
import re
import sys
import threading

import pytest

from engine.config import kokoro_config
from engine.errors import InvalidInput, LanguageUnavailable, UnknownLanguage
from engine.languages import (
    LANGUAGE_NAMES,
    READABLE_SCRIPTS,
    Phonemizer,
    Phonemizers,
    check_script,
    resolve_language,
    split_at_cjk_marks,
    split_at_marks,
)
from engine.text import plan_chunks
from engine.timing import word_timings

pytestmark = pytest.mark.unit

VOCAB = kokoro_config()["vocab"]


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


def test_every_language_says_which_writing_systems_it_reads():
    assert set(READABLE_SCRIPTS) == set(LANGUAGE_NAMES)


@pytest.mark.parametrize("code", list(LANGUAGE_NAMES))
def test_latin_and_letters_of_no_writing_system_are_read_by_every_language(code):
    check_script(code, "Café naïve Øresund Łódź 5 µm, 1ª, ＦＵＬＬ")


@pytest.mark.parametrize(
    ("code", "text", "letter"),
    [("a", "Привет", "П"), ("e", "Say שלום", "ש"), ("f", "สวัสดี", "ส"), ("j", "Привет", "П"), ("z", "α", "α"),
     ("p", "नमस्ते", "न"), ("i", "ქართული", "ქ")],
)  # fmt: skip
def test_a_letter_of_a_writing_system_the_language_cannot_read_is_refused_by_name(code, text, letter):
    with pytest.raises(InvalidInput, match=f"letters \\('{letter}'\\), which {LANGUAGE_NAMES[code]}"):
        check_script(code, text)


@pytest.mark.parametrize(("code", "text"), [("a", "the α particle"), ("e", "Δx"), ("h", "नमस्ते"), ("j", "α こんにちは")])
def test_greek_and_each_languages_own_script_are_read(code, text):
    check_script(code, text)


def test_english_phonemizes_offline_and_keeps_the_users_words():
    words = Phonemizers().get("a")("I have 25 cats.")
    assert [w.text for w in words] == ["I", "have", "25", "cats", "."]
    assert words[2].phonemes.startswith("twˈɛnti")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("[Kokoro](/kˈOkəɹO/) is a model. It speaks.", ["[Kokoro](/kˈOkəɹO/) is a model.", "It speaks."]),
        ("Say [Kokoro](/kˈOkəɹO/). Then [tomato](/təmˈɑːtO/) again.",
         ["Say [Kokoro](/kˈOkəɹO/).", "Then [tomato](/təmˈɑːtO/) again."]),
        ("It works. [Kokoro](/kˈOkəɹO/) too.", ["It works.", "[Kokoro](/kˈOkəɹO/) too."]),
    ],
)  # fmt: skip
def test_an_inline_pronunciation_is_never_cut_from_its_sentence(text, sentences):
    assert Phonemizers().get("a").sentences(text) == sentences


def test_an_inline_pronunciation_speaks_its_phonemes_and_keeps_the_users_word():
    english = Phonemizers().get("a")
    chunk = next(plan_chunks("Say [Kokoro](/kˈOkəɹO/) twice.", english, VOCAB))
    spoken = [(w.text, w.phonemes) for w in chunk.words]
    assert spoken[:3] == [("Say", "sˈA"), ("Kokoro", "kˈOkəɹO"), ("twice", "twˈIs")]


@pytest.mark.parametrize(
    ("text", "two"), [("我买了2本书。", "lja↓ŋ"), ("2个人", "lja↓ŋ"), ("第2天", "ɚ↘"), ("2加2", "ɚ↘")]
)
def test_a_mandarin_2_counting_before_a_measure_word_is_liang(text, two):
    words = Phonemizers().get("z")(text)
    assert next(w.phonemes for w in words if w.text == "2") == two


def test_spanish_goes_through_espeak_and_keeps_each_word():
    words = Phonemizers().get("e")("Hola mundo")
    assert [w.text for w in words] == ["Hola", "mundo"]
    assert all(w.phonemes for w in words)


def test_french_is_read_across_words_and_each_word_keeps_its_own_phonemes():
    """Liaison: 'les amis' is lez amˈi read together, lˈe amˈi a word at a time."""
    words = Phonemizers().get("f")("Les amis sont arrivés, 4 enfants aussi.")
    assert [w.text for w in words] == ["Les", "amis", "sont", "arrivés,", "4", "enfants", "aussi."]
    assert [w.phonemes for w in words][:3] == ["lez", "amˈi", "sˈɔ̃t"]


@pytest.mark.parametrize(
    ("lang", "text", "written"),
    [("e", "Hay 100 personas.", "Hay cien personas."),
     ("f", "Né en 1990.", "Né en mille neuf cent quatre-vingt-dix."),
     ("e", "Son 2,05 kilos.", "Son dos coma cero cinco kilos."),
     ("i", "Pesa 1.500 chili.", "Pesa millecinquecento chili.")],
)  # fmt: skip
def test_an_espeak_language_says_a_number_as_its_words_inside_the_sentence(lang, text, written):
    """espeak reads digits as if alone ("cien" is θjˈen before "personas", not θjˈem) and "2,5" as
    "two five"; a number is spelled out in the language first, and keeps the user's digits."""
    phonemize = Phonemizers().get(lang)
    words, reference = phonemize(text), phonemize(written)
    assert [w.text for w in words][0] == text.split()[0]
    assert text.split()[1] in [w.text for w in words]
    assert " ".join(w.phonemes for w in words) == " ".join(w.phonemes for w in reference)


def test_a_number_in_hindi_is_left_to_espeak():
    words = Phonemizers().get("h")("25")
    assert [w.text for w in words] == ["25"] and words[0].phonemes


@pytest.mark.parametrize(
    ("text", "verb"), [("Use sales@example.com.", "Use it."), ("Record 555-0123 now.", "Record it now.")]
)
def test_a_verb_before_an_address_is_said_as_a_verb(text, verb):
    """Tagged alone, "Use" before an address is a name and "Record" before a phone number the noun."""
    english = Phonemizers().get("a")
    said = english(text)[0].phonemes
    noun = english(f"The {text.split()[0].lower()} was good.")[1].phonemes
    assert said == english(verb)[0].phonemes
    assert said.strip("ˈˌ") != noun.strip("ˈˌ")


def test_an_inline_pronunciation_works_in_the_espeak_languages_too():
    words = Phonemizers().get("f")("Les amis de [Kokoro](/kɔkɔʁˈo/), et «[New York](/nju jˈɔʁk/)».")
    assert [w.text for w in words] == ["Les", "amis", "de", "Kokoro,", "et", "«New York»."]
    assert (words[3].phonemes, words[5].phonemes) == ("kɔkɔʁˈo,", "nju jˈɔʁk.")


def test_where_a_sentence_reads_to_another_word_count_it_is_read_a_word_at_a_time(monkeypatch):
    import misaki.espeak

    from engine.languages import espeak

    class MergingEspeak:
        """Reads "Les amis" together as one word: the sentence cannot be handed back word by word."""

        def __init__(self, language: str):
            self.language = language

        def __call__(self, text: str) -> tuple[str, None]:
            return ("lezami" if " " in text else {"Les": "lˈe", "amis": "amˈi"}[text]), None

    monkeypatch.setattr(misaki.espeak, "EspeakG2P", MergingEspeak)
    phonemize = espeak.phonemizer("f", {})
    assert [(w.text, w.phonemes) for w in phonemize("Les amis")] == [("Les", "lˈe"), ("amis", "amˈi")]


def test_a_language_without_its_g2p_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "jaconv", None)  # as if misaki[ja]'s packages were not installed
    with pytest.raises(LanguageUnavailable, match=r"Japanese \(lang 'j'\) is not installed on this server"):
        Phonemizers().get("j")


def test_a_built_languages_objects_are_out_of_the_collectors_reach(monkeypatch):
    """A full collection walks every object it tracks while it holds the GIL: a language's
    dictionaries (hundreds of thousands of objects) would stall the event loop on each one."""
    dictionary = [{"word": [n]} for n in range(1_000)]

    def build(code: str, lexicon: object) -> Phonemizer:
        return Phonemizer(code, lambda text: [] if dictionary else [])

    monkeypatch.setattr("engine.languages._build_phonemizer", build)
    Phonemizers().get("e")
    tracked = {id(thing) for thing in gc.get_objects()}
    assert not {id(dictionary), *map(id, dictionary)} & tracked
    assert gc.get_freeze_count() >= len(dictionary)


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


@pytest.mark.parametrize(
    ("text", "sentences"),
    [('The train leaves at six. "', ["The train leaves at six.", '"']), ('He said "hi."', ['He said "hi."'])],
)
def test_a_quote_after_a_sentence_and_a_space_opens_the_next(phonemizers, text, sentences):
    assert phonemizers.get("a").sentences(text) == sentences


def test_languages_without_a_spacy_pipeline_split_after_marks(phonemizers):
    assert phonemizers.get("e").sentences("Hola. ¿Qué tal? Bien") == ["Hola.", "¿Qué tal?", "Bien"]
    assert split_at_marks("See e.g. this. Then Dr. Smith.") == ["See e.g. this.", "Then Dr.", "Smith."]


def test_sentence_splitting_waits_for_a_g2p_call_in_progress():
    """English splits with the spaCy pipeline its G2P runs, so the two must not run at once: a
    split asked for while a G2P call is under way waits for the phonemizer's lock, and runs once
    the call is over."""
    in_g2p, release, progress = threading.Event(), threading.Event(), threading.Event()
    overlapped = []

    def held_g2p(text):
        in_g2p.set()
        release.wait()
        in_g2p.clear()
        return []

    def split(paragraph):
        overlapped.append(in_g2p.is_set())
        progress.set()
        return [paragraph]

    phonemizer = Phonemizer("test", held_g2p, split)
    phonemizer._lock = ContendedLock(progress)
    g2p_call = threading.Thread(target=phonemizer, args=("text",))
    g2p_call.start()
    in_g2p.wait()
    splitting = threading.Thread(target=phonemizer.sentences, args=("text",))
    splitting.start()
    progress.wait()  # the split waits for the lock, or (were the two not serialised) runs now
    release.set()
    g2p_call.join()
    splitting.join()
    assert overlapped == [False]


class ContendedLock:
    """A lock that sets `contended` when a thread finds it held and has to wait for it."""

    def __init__(self, contended: threading.Event):
        self._lock = threading.Lock()
        self.contended = contended

    def __enter__(self) -> "ContendedLock":
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_japanese_and_chinese_sentences_end_at_full_width_marks():
    assert split_at_cjk_marks("今日は晴れです。明日は雨！「本当？」はい") == [
        "今日は晴れです。",
        "明日は雨！",
        "「本当？」",
        "はい",
    ]
    assert split_at_cjk_marks("你好。 我很好！你呢？") == ["你好。", "我很好！", "你呢？"]


def test_japanese_and_chinese_sentences_keep_decimals_and_latin_marks():
    assert split_at_cjk_marks("3.5倍です。Yahoo!ニュースを見た. Then more") == [
        "3.5倍です。",
        "Yahoo!ニュースを見た.",
        "Then more",
    ]


@pytest.mark.parametrize(
    ("code", "text", "words"),
    [("j", "今日はいい天気ですね。", ["今日", "は", "いい", "天気", "です", "ね", "。"]),
     ("z", "今天天气很好。", ["今天天气", "很", "好", "。"])],
)  # fmt: skip
def test_japanese_and_chinese_words_are_the_g2ps_own_words_in_the_users_characters(phonemizers, code, text, words):
    spoken = phonemizers.get(code)(text)
    assert [w.text for w in spoken] == words
    assert not any(w.whitespace for w in spoken)  # no spaces between the words in the text...
    assert all(w.space_after for w in spoken[:-2])  # ...but the model hears a break between them
    assert spoken[-1].phonemes == "."
    assert all(w.phonemes for w in spoken)


@pytest.mark.parametrize(
    ("code", "text"),
    [("j", "こんにちは、世界。今日はいい天気ですね！コーヒーを飲みたい？ちょっと待って。"),
     ("z", "你好，世界。今天天气很好！我们在《北京》见面，好吗？")],
)  # fmt: skip
def test_word_by_word_phonemes_are_what_misaki_gives_the_whole_text(phonemizers, code, text):
    """Without numbers or Latin words, a chunk says exactly what kokoro's own G2P says."""
    if code == "j":
        from misaki.cutlet import Cutlet

        expected = Cutlet()(text)[0]
    else:
        from misaki.zh import ZHG2P

        expected = ZHG2P()(text)[0]
    chunks = list(plan_chunks(text, phonemizers.get(code), VOCAB))
    assert " ".join(chunk.phonemes for chunk in chunks) == expected


@pytest.mark.parametrize(
    ("code", "text", "number", "latin"),
    [("j", "私は25歳で、iPhoneを3.5台と1,234円持っています！本当？", "25", "iPhone"),
     ("j", "ｶﾞｲﾄﾞは１２３４５６７８９０１番、「OK」です。", "１２３４５６７８９０１", "OK"),
     ("z", "我有25个苹果，iPhone很贵！价格是3.5元，涨了50%。", "25", "iPhone"),
     ("z", "2024年5月3日，我们在Google见面（1,000人）。", "2024年5月3日", "Google")],
)  # fmt: skip
def test_numbers_punctuation_and_latin_words_inside_japanese_and_chinese(phonemizers, code, text, number, latin):
    words = phonemizers.get(code)(text)
    assert "".join(w.text + (" " if w.whitespace else "") for w in words) == text  # every character, in order
    by_text = {w.text: w for w in words}
    assert by_text[number].phonemes and not re.search(r"[0-9]", by_text[number].phonemes)
    assert sum(p in VOCAB for p in by_text[latin].phonemes) >= 2  # spoken as English, not spelled
    assert all(w.phonemes for w in words if re.search(r"\w", w.text))  # every word is spoken
    assert all(not re.search(r"\w", w.phonemes) for w in words if not re.search(r"\w", w.text))  # marks are marks


@pytest.mark.parametrize("code", ["j", "z"])
def test_japanese_and_chinese_timestamps_cover_every_word_in_order(phonemizers, code):
    text = {
        "j": "私は25歳です。東京でiPhoneを買いました！" * 6,
        "z": "我今年25岁。我在北京买了一部iPhone！" * 6,
    }[code]
    timings, offset = [], 0.0
    for chunk in plan_chunks(text, phonemizers.get(code), VOCAB):
        frames = [2] * (len(chunk.token_ids) + 2)  # every token 2 frames long
        timings += word_timings(chunk, frames, offset)
        offset += sum(frames) * 0.025
    assert "".join(t.word for t in timings) == text
    starts = [t.start_s for t in timings]
    assert starts == sorted(starts)
    assert all(t.start_s <= t.end_s <= offset for t in timings)
    assert all(t.end_s > t.start_s for t in timings if re.search(r"\w", t.word))
    assert all(not t.whitespace for t in timings)


def test_a_space_in_chinese_text_is_kept(phonemizers):
    words = phonemizers.get("z")("我有1,000人 OK")
    assert [(w.text, w.whitespace) for w in words][-3:] == [("1,000", False), ("人", True), ("OK", False)]


@pytest.mark.parametrize(
    ("code", "number"),
    [
        ("a", "1" * 5_000),
        ("e", "1" * 60),
        ("e", "\u0662" * 30),
        ("f", "2,5" + "1" * 40),
        ("p", "9" * 20),
        ("j", "\u0662\u0663"),
    ],  # fmt: skip
)
def test_a_number_too_long_for_num2words_is_read_digit_by_digit(code, number):
    words = Phonemizers().get(code)(number)
    assert words and all(word.phonemes for word in words)


def test_english_hands_misaki_no_long_run_and_keeps_inline_pronunciations_whole():
    from engine.languages.english import MAX_WORD_CHARS, _long_words_cut

    link = "[" + "w" * 40 + "](/dˈʌbᵊljuː/)"
    assert _long_words_cut("a" * (2 * MAX_WORD_CHARS + 1) + " " + link) == " ".join(
        ["a" * MAX_WORD_CHARS] * 2 + ["a", link]
    )
