"""Reading real-world English: which spans the rules take, what a reader says for them, and the
reading corpus read through the whole G2P."""

import pytest

from benchmarks.reading_corpus import CASES, evaluate
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
        ("Add 1/2 cup, 3/4 and 2/3.", [("1/2", "fraction", "one half"), ("3/4", "fraction", "3 quarters"),
                                       ("2/3", "fraction", "2 thirds")]),
        ("She scored 8/10.", [("scored 8/10", "score", "scored 8 out of 10")]),
        ("On 12/25/2024 and 5/1/99.", [("12/25/2024", "date", "December twenty-fifth, 2024"),
                                      ("5/1/99", "date", "May first, 99")]),
        ("A ratio of 16:9, v2.0.1", [("16:9", "ratio", "16 to 9")]),
        ("Version 2.0.1 out", [("2.0.1", "version", "2 point 0 point 1")]),
        ("salt & pepper, 2 + 2 = 4", [("&", "symbol", "and"), ("+", "symbol", "plus"), ("=", "symbol", "equals")]),
    ],
)  # fmt: skip
def test_each_rule_takes_its_span_and_says_the_words(text, expected):
    assert said(text) == expected


@pytest.mark.parametrize(
    "text",
    ["It costs $4.99.", "a $5 million deal", "a $5.", "The 1960s.", "40% off.", "2.5 cups", "$5m raised", "Dr. Smith",
     "co-op 3", "Henry VX", "oranges&pears", "I was 5", "8/3 of it", "13/25/2024", "at 3:60"],
)  # fmt: skip
def test_what_misaki_reads_well_or_is_not_a_span_is_left_alone(text):
    assert said(text) == []


def test_a_span_inside_an_inline_pronunciation_is_left_to_it():
    assert said("[-5°C](/kˈOld/) and -5°C") == [("-5°C", "temperature", "minus 5 degrees Celsius")]


def test_a_span_becomes_an_inline_pronunciation_of_its_words():
    phonemes = {"minus 5 degrees Celsius": "mˈInəs fˈIv dəɡɹˈiz sˈɛlsiəs"}
    assert as_read("It was -5°C.", phonemes.__getitem__) == "It was [-5°C](/mˈInəs fˈIv dəɡɹˈiz sˈɛlsiəs/)."


def test_the_corpus_is_read_as_a_reader_says_it_and_nothing_is_dropped():
    results = evaluate(CASES)
    assert len(CASES) >= 150
    assert not [(case.text, tokens) for case, _, _, tokens in results if tokens]
    assert [(case.text, spoken, reference) for case, spoken, reference, _ in results if spoken != reference] == []
