"""Reading real-world English: which spans the rules take, what a reader says for them, and the
reading corpus read through the whole G2P."""

import pytest

from benchmarks.reading_corpus import CASES, evaluate
from engine.languages import Phonemizers
from engine.reading import as_read, spans

pytestmark = pytest.mark.unit


def said(text: str) -> list[tuple[str, str, str]]:
    return [(text[start:end], kind, words) for start, end, kind, words in spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It was -5°C.", [("-5°C", "temperature", "minus 5 degrees Celsius")]),
        ("It hit 90°.", [("90°", "temperature", "90 degrees")]),
        ("Call 555-0123.", [("555-0123", "phone", "five five five, zero one two three")]),
        ("Mail a.b@c.org.", [("a.b@c.org", "email", "a dot b at c dot org")]),
        ("See https://x.com/a/b.", [("https://x.com/a/b", "url", "x dot com slash a slash b")]),
        ("Go 30 km/h.", [("30 km/h", "measure", "30 kilometres per hour")]),
        ("A 1 kg bag.", [("1 kg", "measure", "1 kilogram")]),
        ("It weighs ~5 kg.", [("~5 kg", "about", "about 5 kilograms")]),
        ("Set -7 now.", [("-7", "negative", "minus 7")]),
        ("pages 3-5", [("pages 3-5", "range", "pages 3 to 5")]),
        ("1990–1995", [("1990–1995", "range", "1990 to 1995")]),
        ("It ran 2001-2005.", [("2001-2005", "years", "2001 to 2005")]),
        ("At 12:00 and 10:05.", [("12:00", "time", "twelve o'clock"), ("10:05", "time", "ten oh five")]),
        ("At 3:30 PM.", [("3:30", "time", "three thirty")]),
        ("A $5 bill, an €8 fee", [("$5", "amount before noun", "5 dollar"), ("€8", "amount before noun", "8 euro")]),
        ("Mon., Feb. 3", [("Mon.", "weekday", "Monday"), ("Feb.", "month", "February")]),
        ("at 12 Oak St.", [("Oak St", "street", "Oak Street")]),
        ("No. 5 vs. #6, e.g. it", [("No.", "number sign", "number"), ("vs.", "abbreviation", "versus"),
                                  ("#", "number sign", "number"), ("e.g.", "abbreviation", "for example")]),
        ("Henry VIII and World War II", [("Henry VIII", "regnal", "Henry the eighth"),
                                         ("World War II", "counted", "World War two")]),
        ("Mary I of England, Charles I's", [("Mary I", "regnal", "Mary the first"),
                                           ("Charles I", "regnal", "Charles the first")]),
        ("Elizabeth I never married", [("Elizabeth I", "regnal", "Elizabeth the first")]),
        ("Henry V and Louis X", [("Henry V", "regnal", "Henry the fifth"), ("Louis X", "regnal", "Louis the tenth")]),
        ("Pope John Paul II", [("Paul II", "regnal", "Paul the second")]),
        ("Type I diabetes, Apollo XI", [("Type I", "counted", "Type one"), ("Apollo XI", "counted", "Apollo eleven")]),
        ("Add 1/2 cup, 3/4 and 2/3.", [("1/2", "fraction", "one half"), ("3/4", "fraction", "3 quarters"),
                                       ("2/3", "fraction", "2 thirds")]),
        ("She scored 8/10.", [("scored 8/10", "score", "scored 8 out of 10")]),
        ("On 12/25/2024 and 5/1/99.", [("12/25/2024", "date", "December twenty-fifth, 2024"),
                                      ("5/1/99", "date", "May first, 99")]),
        ("A ratio of 16:9, v2.0.1", [("16:9", "ratio", "16 to 9")]),
        ("Version 2.0.1 out", [("2.0.1", "version", "2 point 0 point 1")]),
        ("salt & pepper, 2 + 2 = 4", [("&", "symbol", "and"), ("+", "symbol", "plus"), ("=", "symbol", "equals")]),
        ("Raised $1.5M, €3bn", [("$1.5M", "scaled amount", "1.5 million dollars"),
                                ("€3bn", "scaled amount", "3 billion euros")]),
        ("a $10K bonus", [("$10K", "scaled amount", "10 thousand dollar")]),
        ("He is 5'10\" and 6′0″", [("5'10\"", "height", "5 foot 10"), ("6′0″", "height", "6 foot")]),
        ("Wait 10–15 min", [("10–15 min", "measure", "10 to 15 minutes")]),
        ("Up 20-30%", [("20-30%", "percent range", "20 to 30 percent")]),
        ("For 2-3 hours", [("2-3", "range before noun", "2 to 3")]),
        ("Add 2 1/2 cups", [("2 1/2", "fraction", "2 and a half")]),
        ("Call +44 20 7946 0958", [("+44 20 7946 0958", "phone",
                                    "plus four four, two zero, seven nine four six, zero nine five eight")]),
        ("Dial 0800 123 4567", [("0800 123 4567", "phone",
                                 "zero eight zero zero, one two three, four five six seven")]),
        ("at 221B Baker St.", [("Baker St", "street", "Baker Street")]),
        ("It was 77 ºF", [("77 ºF", "temperature", "77 degrees Fahrenheit")]),
        ("From 20-25°C", [("20-25°C", "temperature", "20 to 25 degrees Celsius")]),
    ],
)  # fmt: skip
def test_each_rule_takes_its_span_and_says_the_words(text, expected):
    assert said(text) == expected


@pytest.mark.parametrize(
    "text",
    ["It costs $4.99.", "a $5 million deal", "a $5.", "The 1960s.", "40% off.", "2.5 cups", "Dr. Smith", "co-op 3",
     "+5 and 7", "+1 2 3", "1º", "21-14 this year", "Henry VX", "oranges&pears", "I was 5", "8/3 of it", "13/25/2024",
     "at 3:60", "USB Type C", "Louis C.K.", "Grade C", "Part L", "Section D", "Size M", "Mary I love you",
     "Mary I'm here", "George I don’t know", "James I really need it"],
)  # fmt: skip
def test_what_misaki_reads_well_or_is_not_a_span_is_left_alone(text):
    assert said(text) == []


def test_a_span_inside_an_inline_pronunciation_is_left_to_it():
    assert said("[-5°C](/kˈOld/) and -5°C") == [("-5°C", "temperature", "minus 5 degrees Celsius")]


def test_a_span_becomes_an_inline_pronunciation_of_its_words():
    phonemes = {"minus 5 degrees Celsius": "mˈInəs fˈIv dəɡɹˈiz sˈɛlsiəs"}
    assert as_read("It was -5°C.", phonemes.__getitem__) == "It was [-5°C](/mˈInəs fˈIv dəɡɹˈiz sˈɛlsiəs/)."


def test_a_span_inside_a_word_takes_the_start_of_the_word_with_it():
    phonemes = {"Sizes:": "sˈIzᵻz:", "5 kilograms": "fˈIv kˈɪləɡɹˌæmz"}
    assert as_read("Sizes:5 kg at (5 kg)", phonemes.__getitem__) == (
        "[Sizes:5 kg](/sˈIzᵻz: fˈIv kˈɪləɡɹˌæmz/) at ([5 kg](/fˈIv kˈɪləɡɹˌæmz/))"
    )


def test_the_corpus_is_read_as_a_reader_says_it_and_nothing_is_dropped():
    results = evaluate(CASES)
    assert len(CASES) >= 150
    assert not [(case.text, tokens) for case, _, _, tokens in results if tokens]
    assert [(case.text, spoken, reference) for case, spoken, reference, _ in results if spoken != reference] == []


#: one span of each kind, and what may stand right before it in a text
SPANS = ["-5°C", "555-0123", "(555) 123-4567", "jane@x.org", "https://x.com/a", "30 km/h", "~5 kg", "-7", "pages 3-5",
         "1990–1995", "12:00", "Mon.", "No. 5", "e.g.", "Henry VIII", "1/2", "8/10", "12/25/2024", "16:9", "2.0.1",
         "$1.5M", "5'10\"", "10–15 min", "20-30%", "2-3 hours", "2 1/2", "+44 20 7946 0958", "0800 123 4567",
         "77 ºF", "20-25°C"]  # fmt: skip
BEFORE_A_SPAN = ["", "x", "Size:", "10/", "20–", "a-", "(", '"', "—"]


@pytest.fixture(scope="module")
def english():
    return Phonemizers().get("a")


@pytest.mark.parametrize("before", BEFORE_A_SPAN)
def test_a_span_anywhere_in_a_word_drops_no_word_and_repeats_none(english, before):
    misread = []
    for span in SPANS:
        words = english(f"Go {before}{span} at noon.")
        ends = [(w.text, w.phonemes) for w in words[-3:]]
        silent = [w.text for w in words if not w.phonemes and any(c.isalnum() for c in w.text)]
        if words[0].text != "Go" or ends != [("at", "æt"), ("noon", "nˈun"), (".", ".")] or silent:
            misread.append(" | ".join(f"{w.text}:{w.phonemes}" for w in words))
    assert misread == []


def test_a_span_longer_than_the_bound_is_left_as_written():
    long_url = "https://example.com/" + "a/" * 40
    assert as_read(f"See {long_url} now", lambda words: words) == f"See {long_url} now"
