import pytest

from engine.config import kokoro_config
from engine.errors import InvalidInput, NothingToSpeak
from engine.languages import Phonemizer, Phonemizers, Word
from engine.markup import MAX_TOTAL_BREAK_MS
from engine.text import (
    CHUNK_PHONEMES,
    MAX_G2P_CHARS,
    MAX_MARK_RUN,
    MAX_PHONEMES,
    normalise,
    plan_chunks,
    speakable,
    split_into_chunks,
)

pytestmark = pytest.mark.unit

VOCAB = kokoro_config()["vocab"]


def letters(text: str) -> list[Word]:
    """A stand-in G2P: each word's phonemes are its lower-case letters, punctuation kept."""
    return [Word(w, "".join(c for c in w.lower() if c in VOCAB), True) for w in text.split()]


#: letters, with the regex sentence splitter of the languages without a spaCy pipeline
LETTERS = Phonemizer("test", letters)


@pytest.fixture(scope="module")
def english() -> Phonemizer:
    return Phonemizers().get("a")


def test_normalise_removes_control_characters_and_runs_of_spaces():
    assert normalise("  Hello\x00\x07  world\r\nagain\t ") == "Hello world\nagain"


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("<p>Hello <b>wor</b>ld</p><p>Again</p>", "Hello world Again"),
        ('<speak>Wait<break time="500ms"/>now.</speak>', "Wait \ue000500\ue001 now."),  # a pause, for the chunker
        ("AT&amp;T says &lt;3 &#8212; twice", "AT&T says <3 — twice"),
        ("3 < 5 and 6 > 2", "3 < 5 and 6 > 2"),
        ("<a href='https://x.org' title=\"go\">the site</a>", "the site"),
    ],
)
def test_markup_is_not_read_its_words_are(text, read):
    assert normalise(text) == read


def test_an_ssml_break_is_a_pause_chunk_of_its_length_between_the_words():
    text = 'One two. <break time="500ms"/> Three <break strength="strong"/>four. <break time="60s"/>'
    chunks = list(split_into_chunks(text, LETTERS, VOCAB))
    assert [(c.text, c.pause_s) for c in chunks] == [
        ("One two.", 0.0),
        ("", 0.5),
        ("Three", 0.0),
        ("", 0.7),
        ("four.", 0.0),
        ("", 5.0),
    ]
    assert all(not c.words and not c.token_ids for c in chunks if c.pause_s)


@pytest.mark.parametrize(
    "text", ["Hello \ue000999999999\ue001 world", "Hello &#xe000;999999999&#57345; world", "Hello \ue000\uf8ff world"]
)
def test_a_client_cannot_write_the_pause_marks(text):
    assert [c.pause_s for c in split_into_chunks(text, LETTERS, VOCAB)] == [0.0]
    assert not any("\ue000" <= character <= "\uf8ff" for character in normalise(text))


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ('<break time="1.2.3s"/>', '<break time="1.2.3s"/>'),
        ("<break time=fast>", '<break time="fast"/>'),
        ("<break time='\u0662s'/>", "<break time="),
        ('<break time=""/>', '<break time=""/>'),
        ('<break strength="loud"/>', '<break strength="loud"/>'),
    ],
)
def test_a_break_it_cannot_read_is_an_input_error_naming_the_tag(tag, named):
    with pytest.raises(InvalidInput) as refused:
        normalise(f"Wait {tag} now.")
    assert named in str(refused.value)


def test_a_texts_breaks_add_up_to_a_bounded_pause():
    allowed = MAX_TOTAL_BREAK_MS // 5_000
    pauses = [c.pause_s for c in split_into_chunks('One. <break time="9s"/> Two.' * allowed, LETTERS, VOCAB)]
    assert sum(pauses) == MAX_TOTAL_BREAK_MS / 1000
    with pytest.raises(InvalidInput, match="a text may pause 30 s in all"):
        speakable("One. " + '<break time="5s"/>' * (allowed + 1))


def test_a_long_run_of_marks_is_cut_by_spaces():
    assert normalise("Hi " + "!" * (2 * MAX_MARK_RUN + 1)) == "Hi " + " ".join(["!" * MAX_MARK_RUN] * 2 + ["!"])
    assert normalise("Wait " + "-" * MAX_MARK_RUN) == "Wait " + "-" * MAX_MARK_RUN


def test_a_numeric_reference_too_long_for_a_character_is_a_replacement_character():
    assert normalise("a &#" + "1" * 5_000 + "; b &#x" + "0" * 5_000 + "41; c &#65bc") == "a \ufffd b A c Abc"


def test_a_break_before_any_words_makes_no_pause():
    assert [c.pause_s for c in split_into_chunks("<break time='2s'/>Hello.", LETTERS, VOCAB)] == [0.0]


def test_only_tags_is_nothing_to_speak():
    from engine.speech import SpeechPlanner

    planner = SpeechPlanner(voices=None, phonemizers=None, vocab=VOCAB, max_text_chars=100)
    with pytest.raises(NothingToSpeak, match="tags"):
        planner.validate("<p><br/></p>", "af_heart", 1.0)


def test_every_word_is_kept_in_order_and_chunks_fit_the_model():
    text = " ".join(f"Sentence number {n} has several words in it, like this one." for n in range(60))
    chunks = list(split_into_chunks(text, LETTERS, VOCAB))
    assert [w.text for c in chunks for w in c.words] == text.split()
    assert all(0 < len(c.token_ids) <= CHUNK_PHONEMES for c in chunks)
    assert len(chunks) > 5


def test_a_sentence_is_spoken_in_one_pass_wherever_it_fits_the_model():
    plain = "Word " + " ".join(["word"] * 89) + " end."  # 454 phonemes: over a chunk's budget, within the model's
    assert len(letters(plain)) == 91
    chunks = list(split_into_chunks(f"Hello there. {plain} Bye now.", LETTERS, VOCAB))
    assert [c.text for c in chunks] == ["Hello there.", plain, "Bye now."]
    assert CHUNK_PHONEMES < len(chunks[1].token_ids) <= MAX_PHONEMES


def test_the_first_chunk_is_the_first_sentence_whole():
    text = "The quick brown fox jumps over the lazy dog. It barks. " * 3
    first, second = split_into_chunks(text, LETTERS, VOCAB)
    assert first.text == "The quick brown fox jumps over the lazy dog."
    assert second.text.startswith("It barks.")


def test_cuts_fall_at_sentence_ends_when_one_fits():
    text = "One two three four five six seven. " * 30
    chunks = list(split_into_chunks(text, LETTERS, VOCAB))
    assert all(c.words[-1].text.endswith(".") for c in chunks)


def test_cuts_fall_at_clause_marks_when_no_sentence_end_fits():
    text = "alpha beta gamma delta epsilon, " * 40
    chunks = list(split_into_chunks(text, LETTERS, VOCAB))
    assert all(c.words[-1].text.endswith(",") for c in chunks[:-1])


def test_a_word_longer_than_the_model_limit_is_spoken_in_pieces():
    giant = "a" * ((MAX_PHONEMES + MAX_G2P_CHARS) // 2)  # longer than the model reads, as one G2P piece
    chunks = list(split_into_chunks(f"before {giant} after", LETTERS, VOCAB))
    assert all(len(c.token_ids) <= MAX_PHONEMES for c in chunks)
    spoken = sum(len(w.phonemes) for c in chunks for w in c.words)
    assert spoken == len("before") + len(giant) + len("after")
    assert [w.text for c in chunks for w in c.words if w.text] == ["before", giant, "after"]


def test_paragraphs_start_new_chunks():
    chunks = list(split_into_chunks("First paragraph here\n\nSecond paragraph here", LETTERS, VOCAB))
    assert [c.text for c in chunks] == ["First paragraph here", "Second paragraph here"]


def test_word_spans_point_at_each_words_phonemes():
    (chunk,) = split_into_chunks("ab cd", LETTERS, VOCAB)
    assert chunk.token_ids == (VOCAB["a"], VOCAB["b"], VOCAB[" "], VOCAB["c"], VOCAB["d"])
    assert chunk.word_spans == ((0, 2), (3, 5))


@pytest.mark.parametrize(
    ("text", "says_something"),
    [
        ("Hi", True),
        ("42", True),
        ("こんにちは", True),
        ('"', False),
        (" ", False),
        ("<p><br/></p>", False),
        ("&amp;", False),
        ("<break time='1s'/>", True),
        ("<b>a</b>", True),
    ],
)
def test_speakable_reads_the_markup_a_lone_mark_or_tag_says_nothing(text, says_something):
    assert speakable(text) is says_something


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "%%% ###"])
def test_text_with_nothing_to_speak_is_an_input_error(text):
    with pytest.raises(NothingToSpeak):
        next(plan_chunks(text, Phonemizer("test", lambda t: [Word(w, "", True) for w in t.split()]), VOCAB))


def test_each_sentence_is_phonemized_on_its_own_and_only_when_needed():
    seen: list[str] = []

    def recording(text: str) -> list[Word]:
        seen.append(text)
        return letters(text)

    chunks = split_into_chunks(
        "First one here. Second one here! e.g. not a break. Third?", Phonemizer("test", recording), VOCAB
    )
    first = next(chunks)
    assert seen == ["First one here."]
    rest = list(chunks)
    assert seen == ["First one here.", "Second one here! e.g. not a break.", "Third?"]
    words = [w for c in (first, *rest) for w in c.words]
    assert all(w.whitespace for w in words[:-1])


def test_a_sentence_too_long_for_one_g2p_call_is_phonemized_in_pieces_cut_at_spaces():
    """The G2P reads at most MAX_G2P_CHARS at a time, and the first audio waits for one piece."""
    seen: list[str] = []

    def recording(text: str) -> list[Word]:
        seen.append(text)
        return letters(text)

    giant = "x" * 1_500
    text = "word, " * 600 + f"{giant} word."  # one sentence: 3,600 characters of words, a giant one
    chunks = split_into_chunks(text, Phonemizer("test", recording, lambda paragraph: [paragraph]), VOCAB)
    first = next(chunks)
    assert len(seen) == 1 and len(seen[0]) <= MAX_G2P_CHARS
    chunks = [first, *chunks]
    assert max(map(len, seen)) <= MAX_G2P_CHARS
    assert all(piece.endswith("word,") for piece in seen[:3])  # cut after a word where one fits
    assert giant[:MAX_G2P_CHARS] in seen  # else inside a word
    # a piece's end is no sentence end: the chunks still end at clause marks
    assert all(chunk.words[-1].text.endswith(",") for chunk in chunks[:-3])
    words = [w for chunk in chunks for w in chunk.words]
    assert "".join(w.text + (" " if w.whitespace else "") for w in words).strip() == text


def test_cuts_fall_only_at_the_languages_sentence_ends_not_at_every_full_stop():
    def one_sentence(paragraph: str) -> list[str]:
        return [paragraph]

    text = "Meet me on Main St. at noon, then walk on, " * 20  # one sentence, over the model's limit
    chunks = list(split_into_chunks(text, Phonemizer("test", letters, one_sentence), VOCAB))
    assert all(c.words[-1].text.endswith(",") for c in chunks[:-1])


@pytest.mark.parametrize(
    "text",
    ["Dr. Smith will see you now.", "Mr. and Mrs. Jones live on Main St. in the U.S. They wake at 7 a.m. every day."],
)
def test_english_sentences_are_not_cut_after_abbreviations(english, text):
    assert [c.text for c in split_into_chunks(text, english, VOCAB)] == [text]


def test_english_chunks_end_at_sentences_or_clauses_never_after_abbreviations(english):
    text = "Mr. and Mrs. Jones live on Main St. in the U.S. They wake at 7 a.m. every day, e.g. on Mondays. " * 4
    chunks = list(split_into_chunks(text, english, VOCAB))
    assert len(chunks) > 1
    assert all(c.words[-1].text == "." for c in chunks)


def test_two_english_sentences_are_still_two(english):
    chunks = split_into_chunks("Dr. Smith is late. He will see you at 9 a.m. tomorrow.", english, VOCAB)
    assert [c.text for c in chunks] == ["Dr. Smith is late.", "He will see you at 9 a.m. tomorrow."]


@pytest.mark.parametrize(
    "text, rebuilt",
    [
        ("The Harbour\n\nThe ship came in.\nIt was late.", "The Harbour The ship came in. It was late."),
        ('Wait <break time="1s"/> for it.', "Wait for it."),
        ('Wait<break time="1s"/>for it.', "Wait for it."),  # a pause parts words as a space does
    ],
)
def test_a_paragraphs_last_word_says_the_space_a_line_break_or_a_pause_leaves_in_the_text(text, rebuilt):
    """The words' `whitespace` rebuilds the text: a paragraph's last word is followed by the line
    break, which G2P, seeing the paragraph alone, cannot tell; the tokens are the same."""

    def g2p(text: str) -> list[Word]:  # as misaki: the last word of what it is given has no space after it
        words = letters(text)
        return [*words[:-1], Word(words[-1].text, words[-1].phonemes, False)]

    phonemizer = Phonemizer("test", g2p, lambda paragraph: [paragraph])
    chunks = list(split_into_chunks(text, phonemizer, VOCAB))
    words = [w for chunk in chunks for w in chunk.words]
    assert "".join(w.text + (" " if w.whitespace else "") for w in words) == rebuilt
    alone = [list(split_into_chunks(line, phonemizer, VOCAB)) for line in
             text.replace('<break time="1s"/>', "\n").split("\n") if line.strip()]  # fmt: skip
    assert [c.token_ids for c in chunks if not c.pause_s] == [c.token_ids for part in alone for c in part]
