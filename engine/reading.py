"""What a careful reader says for the English that misaki misreads or drops.

misaki reads prose, money, times, dates, ordinals and percentages well, but reads a phone number
as amounts, spells out a URL letter by letter, says "K M slash H", drops "-5", reads "Mon." as
"mon", "$1.5M" as "one dollar and five cents M" and "2-3 hours" as "two three hours". Each rule
here finds one kind of span and gives the words a reader says for it; the span is then handed to
misaki as its own inline pronunciation, `[span](/phonemes of the words/)`, so the audio says the
words while the word timestamps keep the user's spelling ("-5°C", one entry, spoken "minus five
degrees Celsius"). No rule touches a span that already is an inline pronunciation.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .marks import OPENERS
from .reading_words import (
    ADVERBS_BEFORE_A_VERB,
    COUNTED_NAMES,
    COUNTED_NOUNS,
    FIRST_PERSON_VERBS,
    LATIN_ABBREVIATIONS,
    MONTHS,
    REGNAL_NAMES,
    SCALES,
    STREET_TYPES,
    SYMBOLS,
    UNITS,
    WEEKDAYS,
    about_words,
    amount_before_noun_words,
    counted_words,
    date_words,
    email_words,
    fraction_words,
    height_words,
    measure_words,
    negative_words,
    phone_words,
    range_words,
    regnal_words,
    scaled_amount_before_noun_words,
    scaled_amount_words,
    temperature_words,
    time_words,
    url_words,
    version_words,
)

#: misaki's inline pronunciation, `[word](/phonemes/)`: the word is written in the text and timed,
#: the phonemes are spoken. misaki's own pattern (misaki.en.LINK_REGEX) lets the word hold a "["
#: and the phonemes a "[" or "(", so that a run of "[" makes every one of them look to the end of
#: the text for its "]"; here neither does, and each character is looked at by one "[" at most
INLINE_PRONUNCIATION = re.compile(r"\[([^\[\]]+)\]\(([^\[()]*)\)")

#: a number as misaki reads it well: digits, thousands commas, a decimal part; never one that
#: starts at a group of a number with thousands commas ("000" of "1,000"), so that the rules do
#: not read "1,000,000,..." once from each of its groups
_NUMBER = r"(?!(?<=\d,)\d{3}(?!\d))(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))


@dataclass(frozen=True)
class Rule:
    """One kind of span: where it is, and the words a reader says for a match."""

    kind: str
    pattern: re.Pattern[str]
    words: Callable[[re.Match[str]], str | None]  # None: this match is not one after all


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


#: the longest span read as an inline pronunciation, its word's start included: misaki tries
#: every run of a word's sub-tokens against its lexicon, a cost that grows with the cube of their
#: number, and a longer span is left to be read as written
MAX_SPAN_CHARS = 64
#: the start of a word: after a space, an opening mark (spaCy always splits one from the word
#: after it, so a span may start right after one) or nothing
_WORD_START = rf"(?<![^\s{re.escape(''.join(sorted(OPENERS)))}])"
#: one regex per kind of span; a rule listed earlier wins where two would take the same characters
#: a URL: its host's labels are at most 63 characters, as DNS has them, and at most 10, and its
#: path at most 255 characters (a longer one is not read out as a URL), so that each place a URL
#: may start is looked at for a bounded stretch of text. The path ends at its last character that
#: is no mark: the marks after it end a sentence or a bracket.
URL = (
    r"(?:https?://|(?=www\.))(?P<host>[\w-]{1,63}(?:\.[\w-]{1,63}){1,9})"
    r"(?P<path>/(?:[^\s<>\"]{0,253}[^\s<>\".,;:!?)])?)?(?=[.,;:!?)]*(?:\s|$))"
)
EMAIL = r"(?<![\w.+-])(?P<local>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)+)"
PHONE = (
    r"(?<![\w-])(?:\+?1[-. ])?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?![\w-])"  # (555) 123-4567, 800-555-0199
    r"|(?<![\w-])\d{3}-\d{4}(?![\w-])"  # 555-0123
    r"|(?<![\w+])(?P<international>\+)\d{1,3}(?:[ .-]\(?\d{1,4}\)?){2,5}(?![\w-])"  # +44 20 7946 0958
    r"|(?<![\w.,-])0\d{2,4}[ -]\d{3,4}[ -]\d{3,4}(?![\w-])"  # 020 7946 0958, 0800 123 4567
)
#: an address or a phone number: one noun to a reader, though a tagger seldom knows it for one
ADDRESS = re.compile(f"{URL}|{EMAIL}|{PHONE}", re.I)
#: "º" and "˚" stand in for "°" before a scale ("77 ºF"); alone, "º" is an ordinal ("1º")
TEMPERATURE = (
    rf"(?<![\w.])(?:(?P<low>{_NUMBER}) ?[-–] ?)?(?P<sign>[-−+]?)(?P<number>{_NUMBER})"
    r" ?(?:°|[º˚](?= ?[CFK]\b)) ?(?P<scale>[CFK]\b)?"
)
ABOUT = rf"{_WORD_START}~ ?(?P<number>{_NUMBER})(?: ?(?P<unit>{_UNIT}))?(?![\w/]|\.\d)"
MEASURE = (
    rf"(?<![\w.$£€])(?:(?P<low>{_NUMBER}) ?[-–] ?)?(?P<sign>[-−])?(?P<number>{_NUMBER}) ?(?P<unit>{_UNIT})(?![\w/])"
)
PERCENT_RANGE = rf"(?<![\w.])(?P<first>{_NUMBER}) ?[-–] ?(?P<last>{_NUMBER}) ?%"
_SCALED = rf"(?P<currency>[$£€])(?P<number>{_NUMBER})(?P<scale>{_alternatives(SCALES)})"
SCALED_AMOUNT = rf"(?<![\w.]){_SCALED}(?!\w)"
HEIGHT = r"(?<![\w.'′])(?P<feet>[1-9])['′](?P<inches>1[01]|\d)(?:[\"″]|'')?(?![\w'′])"
NEGATIVE = rf"(?<![\w.)-])[-−](?P<number>{_NUMBER})(?![\w-])"
#: an en dash between numbers, or a hyphen after a word that counts ("pages 3-5")
RANGE = (
    r"(?P<before>(?:pages?|pp\.|chapters?|verses?|items?|steps?|rooms?|years?|ages?|sizes?) )?"
    r"(?<![\w.])(?P<first>\d+)(?: ?– ?|(?(before)-|(?!)))(?P<last>\d+)(?!\w|\.\d)"
)
RANGE_BEFORE_NOUN = rf"(?<![\w.-])(?P<before>)(?P<first>\d+)-(?P<last>\d+)(?= (?:{_alternatives(COUNTED_NOUNS)})\b)"
YEARS = r"(?<![\w.])(?P<before>)(?P<first>1\d{3}|20\d{2})[-–](?P<last>1\d{3}|20\d{2})(?!\w|\.\d)"
SCORE = r"\b(?P<verb>scored|rated|got|scores?|rating) (?P<points>\d+)/(?P<of>\d+)(?![\w/]|\.\d)"
FRACTION = r"(?<![\w/.,])(?:(?P<whole>\d+) )?(?P<numerator>[1-9]|1[0-5])/(?P<denominator>[2-9]|1[0-6])(?![\w/]|\.\d)"
DATE = r"(?<![\w/.])(?P<month>0?[1-9]|1[0-2])/(?P<day>0?[1-9]|[12]\d|3[01])/(?P<year>\d{4}|\d{2})(?![\w/]|\.\d)"
#: a whole amount after "a" or "an" and before a word that is no number: "a $5 bill"
_AFTER_AN_ARTICLE = r"(?:(?<=\b[Aa] )|(?<=\b[Aa]n ))"
_BEFORE_A_NOUN = r"(?= (?!(?:hundred|thousand|million|billion|trillion)\b)[a-z])"
AMOUNT_BEFORE_NOUN = rf"{_AFTER_AN_ARTICLE}(?P<currency>[$£€])(?P<number>\d+){_BEFORE_A_NOUN}"
SCALED_AMOUNT_BEFORE_NOUN = rf"{_AFTER_AN_ARTICLE}{_SCALED}{_BEFORE_A_NOUN}"
#: a number, a colon and one digit: no time of day ("16:9")
RATIO = r"(?<![\w:.])(?P<first>\d+):(?P<last>\d)(?![\w:]|\.\d)"
VERSION = r"(?<![\w.])\d+(?:\.\d+){2,}(?![\w]|\.\d)"
TIME = r"(?<![\w:.])(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)(?![\w:]|\.\d)"
WEEKDAY = rf"\b(?P<day>{_alternatives(WEEKDAYS)})\.(?=,? (?:{_alternatives(MONTHS)}\b|\d|$))"
MONTH = rf"\b(?P<month>{_alternatives(MONTHS)})\.(?= ?\d)"
STREET = rf"(?:(?<=\d )|(?<=\d[A-Z] ))(?P<name>(?:[A-Z][a-z]+ )+)(?P<type>{_alternatives(STREET_TYPES)})(?=\.|\b)"
NUMBER_SIGN = r"\bNo\.(?= ?\d)|#(?=\d)"
ABBREVIATION = rf"(?<!\w)(?:{_alternatives(LATIN_ABBREVIATIONS)})"
#: a roman numeral after a name. Alone, C and L are letters ("Type C", "Louis C.K.", "Size L"), as D and M
#: are; I, V and X are numerals ("Part I", "Henry V", "Louis X"), but for the pronoun: an "I" with its
#: contraction ("Mary I'm", not "Charles I's") or before a first-person verb ("Mary I really love you")
_FIRST_PERSON_VERB = rf"(?:(?:{_alternatives(ADVERBS_BEFORE_A_VERB)}) )?(?:{_alternatives(FIRST_PERSON_VERBS)})\b"
_PRONOUN_AFTER = rf"['’](?!s\b)| {_FIRST_PERSON_VERB}"
_NUMERAL = rf"(?P<numeral>[IVXLC]{{2,}}|[VX]|I(?!{_PRONOUN_AFTER}))\b"
REGNAL = rf"\b(?P<name>{_alternatives(REGNAL_NAMES)}) {_NUMERAL}"
COUNTED = rf"\b(?P<name>{_alternatives(COUNTED_NAMES)}) {_NUMERAL}"
SYMBOL = rf"(?<= )[{''.join(SYMBOLS)}](?= )"

RULES = (
    Rule("url", re.compile(URL, re.I), url_words),
    Rule("email", re.compile(EMAIL), email_words),
    Rule("phone", re.compile(PHONE), phone_words),
    Rule("temperature", re.compile(TEMPERATURE), temperature_words),
    Rule("scaled amount", re.compile(SCALED_AMOUNT_BEFORE_NOUN), scaled_amount_before_noun_words),
    Rule("scaled amount", re.compile(SCALED_AMOUNT), scaled_amount_words),
    Rule("height", re.compile(HEIGHT), height_words),
    Rule("about", re.compile(ABOUT), about_words),
    Rule("measure", re.compile(MEASURE), measure_words),
    Rule("percent range", re.compile(PERCENT_RANGE), lambda m: f"{m['first']} to {m['last']} percent"),
    Rule("negative", re.compile(NEGATIVE), negative_words),
    Rule("range", re.compile(RANGE, re.I), range_words),
    Rule("range before noun", re.compile(RANGE_BEFORE_NOUN), range_words),
    Rule("years", re.compile(YEARS), range_words),
    Rule("date", re.compile(DATE), date_words),
    Rule("score", re.compile(SCORE), lambda m: f"{m['verb']} {m['points']} out of {m['of']}"),
    Rule("fraction", re.compile(FRACTION), fraction_words),
    Rule("amount before noun", re.compile(AMOUNT_BEFORE_NOUN), amount_before_noun_words),
    Rule("ratio", re.compile(RATIO), lambda m: f"{m['first']} to {m['last']}"),
    Rule("version", re.compile(VERSION), version_words),
    Rule("time", re.compile(TIME), time_words),
    Rule("weekday", re.compile(WEEKDAY), lambda m: WEEKDAYS[m["day"]]),
    Rule("month", re.compile(MONTH), lambda m: MONTHS[m["month"]]),
    Rule("street", re.compile(STREET), lambda m: m["name"] + STREET_TYPES[m["type"]]),
    Rule("number sign", re.compile(NUMBER_SIGN), lambda m: "number"),
    Rule("abbreviation", re.compile(ABBREVIATION), lambda m: LATIN_ABBREVIATIONS[m.group()]),
    Rule("regnal", re.compile(REGNAL), regnal_words),
    Rule("counted", re.compile(COUNTED), counted_words),
    Rule("symbol", re.compile(SYMBOL), lambda m: SYMBOLS[m.group()]),
)


def spans(text: str) -> Iterable[tuple[int, int, str, str]]:
    """(start, end, kind, words said) for each span a rule reads, leftmost first, none overlapping
    another or an inline pronunciation already in the text; earlier rules win a tie."""
    taken = [link.span() for link in INLINE_PRONUNCIATION.finditer(text)]
    found = []
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            if start == end or any(start < b and a < end for a, b in taken):
                continue
            words = rule.words(match)
            if words is None:
                continue
            taken.append((start, end))
            found.append((start, end, rule.kind, words))
    return sorted(found)


def as_read(text: str, phonemes_of: Callable[[str], str]) -> str:
    """`text` with each span a rule reads turned into an inline pronunciation of its words;
    `phonemes_of` phonemizes plain words.

    misaki matches an inline pronunciation to spaCy's tokens by the text's words between spaces,
    so one that starts inside a word ("Sizes:5 kg", "10/-5°C") lands on the wrong tokens: a word
    is said twice and the next one dropped. Such a span takes the start of its word with it."""
    out, at = [], 0
    for start, end, _, words in spans(text):
        glued = start
        while glued > at and not text[glued - 1].isspace() and text[glued - 1] not in OPENERS:
            glued -= 1
        written = text[glued:end]
        if len(written) > MAX_SPAN_CHARS or "[" in written or "]" in written:
            continue
        phonemes = " ".join(filter(None, (phonemes_of(text[glued:start]) if glued < start else "", phonemes_of(words))))
        if any(mark in phonemes for mark in "[()") or not phonemes:
            continue
        out.append(text[at:glued] + f"[{written}](/{phonemes}/)")
        at = end
    return "".join(out) + text[at:]
