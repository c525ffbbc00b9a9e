"""The words a careful reader says for each kind of span engine.reading finds: the tables of
units, days, months, scales and names, and one function per kind that turns a match into words."""

import re

from num2words import num2words

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
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


CURRENCIES = {"$": "dollar", "£": "pound", "€": "euro"}
SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "×": "times"}


def digits(text: str) -> str:
    return " ".join(DIGIT_WORDS[int(c)] for c in text if c.isdigit())


def _signed(sign: str) -> str:
    return "minus " if sign in "-−" and sign else ""


def temperature_words(m: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit", "K": " kelvin"}.get(m["scale"] or "", "")
    unit = "degree" if m["number"] == "1" and not m["low"] else "degrees"
    low = f"{m['low']} to " if m["low"] else ""
    return f"{low}{_signed(m['sign'])}{m['number']} {unit}{scale}"


def phone_words(m: re.Match[str]) -> str | None:
    """Each group of digits digit by digit; an international number ("+44 20 7946 0958") says its
    plus, and has eight digits at least (fewer are some other numbers after a plus)."""
    groups = re.findall(r"\d+", m.group())
    if m["international"] and len("".join(groups)) < 8:
        return None
    return ("plus " if m["international"] else "") + ", ".join(digits(group) for group in groups)


def email_words(m: re.Match[str]) -> str:
    local, domain = m["local"], m["domain"]
    return f"{_letters_and_digits(_said_marks(local))} at {_host(domain)}"


def url_words(m: re.Match[str]) -> str:
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


def measure_words(m: re.Match[str]) -> str:
    singular, plural = UNITS[m["unit"]]
    sign = m.groupdict().get("sign") or ""
    low = m.groupdict().get("low")
    if low:
        return f"{low} to {_signed(sign)}{m['number']} {plural}"
    return f"{_signed(sign)}{m['number']} {singular if m['number'] == '1' else plural}"


def about_words(m: re.Match[str]) -> str:
    return "about " + (measure_words(m) if m["unit"] else m["number"])


def time_words(m: re.Match[str]) -> str:
    """misaki says "twelve zero zero", "ten zero five", and puts a pause inside "eleven: fifty-nine"."""
    hour, minute = num2words(int(m["hour"])), m["minute"]
    if minute == "00":
        return f"{hour} o'clock"
    return f"{hour} oh {DIGIT_WORDS[int(minute[1])]}" if minute[0] == "0" else f"{hour} {num2words(int(minute))}"


def scaled_amount_words(m: re.Match[str]) -> str:
    return f"{m['number']} {SCALES[m['scale']]} {CURRENCIES[m['currency']]}s"


def scaled_amount_before_noun_words(m: re.Match[str]) -> str:
    """ "a $5M deal" is a "5 million dollar" one, as "a $5 bill" is a "5 dollar" one."""
    return f"{m['number']} {SCALES[m['scale']]} {CURRENCIES[m['currency']]}"


def height_words(m: re.Match[str]) -> str:
    return f"{m['feet']} foot" + ("" if m["inches"] == "0" else f" {m['inches']}")


def amount_before_noun_words(m: re.Match[str]) -> str:
    """An amount that describes a noun is said in the singular: "a five dollar bill"."""
    return f"{m['number']} {CURRENCIES[m['currency']]}"


def fraction_words(m: re.Match[str]) -> str | None:
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


def date_words(m: re.Match[str]) -> str:
    """A US numeric date, month first."""
    year = m["year"]
    return f"{MONTH_NAMES[int(m['month']) - 1]} {num2words(int(m['day']), to='ordinal')}, {year}"


def version_words(m: re.Match[str]) -> str:
    return " point ".join(m.group().split("."))


def negative_words(m: re.Match[str]) -> str:
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


def regnal_words(m: re.Match[str]) -> str | None:
    value = _roman(m["numeral"])
    return None if value is None else f"{m['name']} the {num2words(value, to='ordinal')}"


def counted_words(m: re.Match[str]) -> str | None:
    value = _roman(m["numeral"])
    return None if value is None else f"{m['name']} {num2words(value)}"


def range_words(m: re.Match[str]) -> str:
    return f"{m['before'] or ''}{m['first']} to {m['last']}"
