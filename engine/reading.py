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

from num2words import num2words

from .marks import OPENERS

#: misaki's inline pronunciation, `[word](/phonemes/)`: the word is written in the text and timed,
#: the phonemes are spoken. misaki's own pattern (misaki.en.LINK_REGEX) lets the word hold a "["
#: and the phonemes a "[" or "(", so that a run of "[" makes every one of them look to the end of
#: the text for its "]"; here neither does, and each character is looked at by one "[" at most
INLINE_PRONUNCIATION = re.compile(r"\[([^\[\]]+)\]\(([^\[()]*)\)")

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: a number as misaki reads it well: digits, thousands commas, a decimal part; never one that
#: starts at a group of a number with thousands commas ("000" of "1,000"), so that the rules do
#: not read "1,000,000,..." once from each of its groups
_NUMBER = r"(?!(?<=\d,)\d{3}(?!\d))(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
#: unit -> (singular, plural); the spoken number comes first
UNITS = {
    "km/h": ("kilometre per hour", "kilometres per hour"),
    "kph": ("kilometre per hour", "kilometres per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("metre per second", "metres per second"),
    "km": ("kilometre", "kilometres"),
    "cm": ("centimetre", "centimetres"),
    "mm": ("millimetre", "millimetres"),
    "m": ("metre", "metres"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("millilitre", "millilitres"),
    "mL": ("millilitre", "millilitres"),
    "L": ("litre", "litres"),
    "kB": ("kilobyte", "kilobytes"),
    "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "min": ("minute", "minutes"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "ms": ("millisecond", "milliseconds"),
}
_UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
WEEKDAYS = {"Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
            "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday"}  # fmt: skip
MONTHS = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June", "Jul": "July",
          "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October", "Nov": "November",
          "Dec": "December"}  # fmt: skip
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")  # fmt: skip
STREET_TYPES = {"St": "Street", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Dr": "Drive", "Ln": "Lane"}
LATIN_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "vs.": "versus", "etc.": "et cetera"}
#: names after which a roman numeral is an ordinal ("Henry the Eighth"); after the others it counts
REGNAL_NAMES = ("Henry", "Louis", "Elizabeth", "George", "Edward", "Richard", "Charles", "James", "William",
                "John", "Mary", "Philip", "Frederick", "Napoleon", "Pius", "Leo", "Benedict", "Gregory", "Paul",
                "Peter", "Alexander", "Nicholas", "Catherine", "Ivan", "Francis", "Wilhelm", "Ferdinand",
                "Constantine")  # fmt: skip
COUNTED_NAMES = ("World War", "Chapter", "Part", "Volume", "Book", "Act", "Episode", "Phase", "Section", "Article",
                 "Level", "Round", "Super Bowl", "Title", "Appendix", "Grade", "Class", "Type", "Apollo", "Gemini",
                 "Vatican")  # fmt: skip
#: verbs in the form the pronoun "I" takes and a third person does not: after one of these, "Mary I"
#: is Mary spoken to ("Mary I love you"), never Mary the First, who "loves". A history is told in the
#: past, so the negated present modals are here too ("John I can't come"); "said", "was", "could"
#: fit both, and there the numeral stays ("Elizabeth I was queen")
FIRST_PERSON_VERBS = ("am", "have", "haven't", "haven’t", "do", "don't", "don’t", "can't", "can’t", "cannot",
                      "won't", "won’t", "love", "think", "know", "want", "need", "like", "hope", "miss", "mean",
                      "see", "feel", "guess", "believe", "wish", "agree", "understand", "remember", "forget",
                      "promise", "swear", "appreciate", "apologize", "apologise", "suppose", "doubt", "wonder",
                      "adore", "hate", "owe", "trust", "prefer", "admit", "realize", "realise", "recommend",
                      "suggest", "thank", "get", "go", "say", "ask")  # fmt: skip
#: the adverbs that may stand between the pronoun and its verb ("Mary I really love you")
ADVERBS_BEFORE_A_VERB = ("just", "really", "also", "still", "never", "always", "truly", "honestly", "actually",
                         "only", "totally", "absolutely", "definitely", "certainly", "already", "sometimes",
                         "often")  # fmt: skip
ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
#: the letters after an amount that scale it ("$10K", "£3bn")
SCALES = {"K": "thousand", "k": "thousand", "M": "million", "m": "million", "MM": "million", "mn": "million",
          "B": "billion", "bn": "billion", "T": "trillion", "tn": "trillion"}  # fmt: skip
#: plural nouns a hyphenated range of whole numbers counts: "2-3 hours" is "two to three hours"
COUNTED_NOUNS = ("seconds", "minutes", "hours", "days", "nights", "weeks", "months", "years", "decades", "times",
                 "people", "persons", "adults", "children", "kids", "guests", "players", "members", "students",
                 "users", "employees", "workers", "items", "pieces", "slices", "servings", "portions", "cups",
                 "tablespoons", "teaspoons", "tablets", "pills", "capsules", "doses", "drinks", "glasses", "sets",
                 "reps", "laps", "rounds", "miles", "feet", "inches", "yards", "metres", "meters", "kilometres",
                 "kilometers", "pounds", "ounces", "grams", "dollars", "euros", "cents", "degrees", "words", "lines",
                 "pages", "seats", "rooms", "beds", "floors", "stars", "points", "goals")  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One kind of span: where it is, and the words a reader says for a match."""

    kind: str
    pattern: re.Pattern[str]
    words: Callable[[re.Match[str]], str | None]  # None: this match is not one after all


def digits(text: str) -> str:
    return " ".join(DIGIT_WORDS[int(c)] for c in text if c.isdigit())


def _signed(sign: str) -> str:
    return "minus " if sign in "-−" and sign else ""


def _temperature(m: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit", "K": " kelvin"}.get(m["scale"] or "", "")
    unit = "degree" if m["number"] == "1" and not m["low"] else "degrees"
    low = f"{m['low']} to " if m["low"] else ""
    return f"{low}{_signed(m['sign'])}{m['number']} {unit}{scale}"


def _phone(m: re.Match[str]) -> str | None:
    """Each group of digits digit by digit; an international number ("+44 20 7946 0958") says its
    plus, and has eight digits at least (fewer are some other numbers after a plus)."""
    groups = re.findall(r"\d+", m.group())
    if m["international"] and len("".join(groups)) < 8:
        return None
    return ("plus " if m["international"] else "") + ", ".join(digits(group) for group in groups)


def _email(m: re.Match[str]) -> str:
    local, domain = m["local"], m["domain"]
    return f"{_letters_and_digits(_said_marks(local))} at {_host(domain)}"


def _url(m: re.Match[str]) -> str:
    host, path = m["host"], m["path"] or ""
    spoken = _host(host.removeprefix("www."))
    if host.startswith("www."):
        spoken = "w w w dot " + spoken
    parts = [p for p in path.split("/") if p]
    for part in parts:
        spoken += " slash " + _letters_and_digits(_said_marks(part))
    return spoken


#: the marks inside an address, as they are said
ADDRESS_MARKS = {".": " dot ", "_": " underscore ", "+": " plus ", "-": " dash "}


def _said_marks(part: str) -> str:
    return re.sub(r"[._+-]", lambda mark: ADDRESS_MARKS[mark.group()], part)


def _host(host: str) -> str:
    return " dot ".join(_letters_and_digits(label.replace("-", " dash ")) for label in host.split("."))


def _letters_and_digits(text: str) -> str:
    """Runs of digits read digit by digit (as in an address, not as amounts); words left to misaki."""
    return re.sub(r"\d+", lambda run: " " + digits(run.group()) + " ", text).strip()


def _measure(m: re.Match[str]) -> str:
    singular, plural = UNITS[m["unit"]]
    sign = m.groupdict().get("sign") or ""
    low = m.groupdict().get("low")
    if low:
        return f"{low} to {_signed(sign)}{m['number']} {plural}"
    return f"{_signed(sign)}{m['number']} {singular if m['number'] == '1' else plural}"


def _about(m: re.Match[str]) -> str:
    return "about " + (_measure(m) if m["unit"] else m["number"])


def _time(m: re.Match[str]) -> str:
    """misaki says "twelve zero zero", "ten zero five", and puts a pause inside "eleven: fifty-nine"."""
    hour, minute = num2words(int(m["hour"])), m["minute"]
    if minute == "00":
        return f"{hour} o'clock"
    return f"{hour} oh {DIGIT_WORDS[int(minute[1])]}" if minute[0] == "0" else f"{hour} {num2words(int(minute))}"


def _scaled_amount(m: re.Match[str]) -> str:
    return f"{m['number']} {SCALES[m['scale']]} {CURRENCIES[m['currency']]}s"


def _scaled_amount_before_noun(m: re.Match[str]) -> str:
    """ "a $5M deal" is a "5 million dollar" one, as "a $5 bill" is a "5 dollar" one."""
    return f"{m['number']} {SCALES[m['scale']]} {CURRENCIES[m['currency']]}"


def _height(m: re.Match[str]) -> str:
    return f"{m['feet']} foot" + ("" if m["inches"] == "0" else f" {m['inches']}")


def _amount_before_noun(m: re.Match[str]) -> str:
    """An amount that describes a noun is said in the singular: "a five dollar bill"."""
    return f"{m['number']} {CURRENCIES[m['currency']]}"


def _fraction(m: re.Match[str]) -> str | None:
    """A proper fraction with a small denominator ("3/4"), after a whole number or not ("2 1/2");
    anything else ("8/3", a score) is left."""
    numerator, denominator = int(m["numerator"]), int(m["denominator"])
    if numerator >= denominator:
        return None
    if m["whole"]:
        part = {(1, 2): "a half", (1, 4): "a quarter"}.get((numerator, denominator))
        return f"{m['whole']} and {part or _proper_fraction(numerator, denominator)}"
    return _proper_fraction(numerator, denominator)


def _proper_fraction(numerator: int, denominator: int) -> str:
    if denominator == 2:
        return "one half" if numerator == 1 else f"{numerator} halves"
    if denominator == 4:
        return f"{numerator} quarter" + ("" if numerator == 1 else "s")
    return f"{numerator} {num2words(denominator, to='ordinal')}" + ("" if numerator == 1 else "s")


def _date(m: re.Match[str]) -> str:
    """A US numeric date, month first."""
    year = m["year"]
    return f"{MONTH_NAMES[int(m['month']) - 1]} {num2words(int(m['day']), to='ordinal')}, {year}"


def _version(m: re.Match[str]) -> str:
    return " point ".join(m.group().split("."))


def _negative(m: re.Match[str]) -> str:
    return f"minus {m['number']}"


def _roman(numeral: str) -> int | None:
    values = [ROMAN_VALUES[c] for c in numeral]
    total = sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
    return total if 0 < total < 4000 and _as_roman(total) == numeral else None


def _as_roman(number: int) -> str:
    table = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
             (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]  # fmt: skip
    written = ""
    for value, letters in table:
        count, number = divmod(number, value)
        written += letters * count
    return written


def _regnal(m: re.Match[str]) -> str | None:
    value = _roman(m["numeral"])
    return None if value is None else f"{m['name']} the {num2words(value, to='ordinal')}"


def _counted(m: re.Match[str]) -> str | None:
    value = _roman(m["numeral"])
    return None if value is None else f"{m['name']} {num2words(value)}"


def _range(m: re.Match[str]) -> str:
    return f"{m['before'] or ''}{m['first']} to {m['last']}"


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
CURRENCIES = {"$": "dollar", "£": "pound", "€": "euro"}
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
SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "×": "times"}
SYMBOL = rf"(?<= )[{''.join(SYMBOLS)}](?= )"

RULES = (
    Rule("url", re.compile(URL, re.I), _url),
    Rule("email", re.compile(EMAIL), _email),
    Rule("phone", re.compile(PHONE), _phone),
    Rule("temperature", re.compile(TEMPERATURE), _temperature),
    Rule("scaled amount", re.compile(SCALED_AMOUNT_BEFORE_NOUN), _scaled_amount_before_noun),
    Rule("scaled amount", re.compile(SCALED_AMOUNT), _scaled_amount),
    Rule("height", re.compile(HEIGHT), _height),
    Rule("about", re.compile(ABOUT), _about),
    Rule("measure", re.compile(MEASURE), _measure),
    Rule("percent range", re.compile(PERCENT_RANGE), lambda m: f"{m['first']} to {m['last']} percent"),
    Rule("negative", re.compile(NEGATIVE), _negative),
    Rule("range", re.compile(RANGE, re.I), _range),
    Rule("range before noun", re.compile(RANGE_BEFORE_NOUN), _range),
    Rule("years", re.compile(YEARS), _range),
    Rule("date", re.compile(DATE), _date),
    Rule("score", re.compile(SCORE), lambda m: f"{m['verb']} {m['points']} out of {m['of']}"),
    Rule("fraction", re.compile(FRACTION), _fraction),
    Rule("amount before noun", re.compile(AMOUNT_BEFORE_NOUN), _amount_before_noun),
    Rule("ratio", re.compile(RATIO), lambda m: f"{m['first']} to {m['last']}"),
    Rule("version", re.compile(VERSION), _version),
    Rule("time", re.compile(TIME), _time),
    Rule("weekday", re.compile(WEEKDAY), lambda m: WEEKDAYS[m["day"]]),
    Rule("month", re.compile(MONTH), lambda m: MONTHS[m["month"]]),
    Rule("street", re.compile(STREET), lambda m: m["name"] + STREET_TYPES[m["type"]]),
    Rule("number sign", re.compile(NUMBER_SIGN), lambda m: "number"),
    Rule("abbreviation", re.compile(ABBREVIATION), lambda m: LATIN_ABBREVIATIONS[m.group()]),
    Rule("regnal", re.compile(REGNAL), _regnal),
    Rule("counted", re.compile(COUNTED), _counted),
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
