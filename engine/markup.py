"""Markup in a client's text: HTML, XML and SSML tags dropped (their words kept), SSML's <break/>
a pause marked for the planner, entities decoded. Every pattern reads linearly, whatever the text."""

import html
import re

from .errors import InvalidInput

#: Every pattern below reads a tag up to its closing ">" and never past a "<", so a run of
#: unclosed tags costs one look at each character, not one look at the rest of the text per tag.
#: an HTML, XML or SSML tag: a name after "<" or "</", attributes, an optional "/" before ">"
#: (so "3 < 5 and 6 > 2" is no tag)
_TAG = re.compile(
    r"""</?(?P<name>[A-Za-z][\w:.-]*)(?:\s+[\w:.-]+(?:\s*=\s*(?:"[^"<]*"|'[^'<]*'|[^\s"'<>]+))?)*\s*/?>"""
)
#: tags that separate what they hold from what is around them; any other ("<b>", "<emphasis>")
#: sits inside a word as well as between words
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table", "section",
     "article", "blockquote", "speak", "s", "sentence", "paragraph"}
)  # fmt: skip
#: SSML's <break/>: its attributes are read from what is between "<break" and ">"
_BREAK = re.compile(r"<break\b(?P<attributes>[^<>]*)>", re.I)
_ATTRIBUTE = re.compile(
    r"""(?<![\w:.-])(?P<name>[\w:.-]+)\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'/]+))"""
)
#: a break's time: a number of seconds or milliseconds ("500ms", "1.5s")
_BREAK_TIME = re.compile(r"\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>ms|s)\s*", re.I)
#: SSML's pause for each break strength, in milliseconds (a bare <break/> is "medium")
BREAK_STRENGTHS_MS = {"none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700, "x-strong": 1000}
#: the longest pause one <break/> makes: a longer time is this long
MAX_BREAK_MS = 5_000
#: the most pause a text's <break/>s may add up to; a text that asks for more is refused, since
#: silence is rendered as samples and a request's audio is bounded by its text
MAX_TOTAL_BREAK_MS = 30_000
#: a pause in normalised text: its milliseconds between two private-use characters
PAUSE = re.compile("\ue000(\\d+)\ue001")
#: the characters of Unicode's private use area, which have no pronunciation; the pause marks are
#: among them, and a client's text never carries one
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
#: a numeric character reference (&#8212; &#x2014;) as html.unescape reads one: its digits
#: without their leading zeros
_NUMERIC_REFERENCE = re.compile(r"&#(?:(?P<hex>[xX])0*(?P<hex_digits>[0-9a-fA-F]+)|0*(?P<digits>[0-9]+))(?P<end>;?)")


def without_markup(text: str) -> str:
    """The text a tagged text reads as: tags removed (their words kept), SSML's <break/> a pause
    marked for the chunker, entities (&amp;) decoded. Raises InvalidInput for a <break/> it cannot
    read and for breaks that add up to more than MAX_TOTAL_BREAK_MS."""
    text = _PRIVATE_USE.sub("", text)
    if "<" not in text and "&" not in text:
        return text
    pauses: list[int] = []

    def pause_mark(tag: re.Match[str]) -> str:
        pauses.append(_break_ms(tag))
        return f" \ue000{pauses[-1]}\ue001 "

    marked = _BREAK.sub(pause_mark, text)
    if sum(pauses) > MAX_TOTAL_BREAK_MS:
        raise InvalidInput(
            f"the <break/> tags add up to {sum(pauses) / 1000:g} s of pause; a text may pause "
            f"{MAX_TOTAL_BREAK_MS / 1000:g} s in all"
        )
    untagged = _TAG.sub(lambda tag: " " if tag["name"].lower() in _BLOCK_TAGS else "", marked)
    pieces = PAUSE.split(untagged)  # text, milliseconds, text, ...
    return "".join(
        f"\ue000{piece}\ue001" if n % 2 else _PRIVATE_USE.sub("", _unescaped(piece)) for n, piece in enumerate(pieces)
    )


def _break_ms(tag: re.Match[str]) -> int:
    """A <break/>'s pause: its time, capped at MAX_BREAK_MS, else its strength's."""
    attributes = {
        found["name"].lower(): next(value for value in found.group("double", "single", "bare") if value is not None)
        for found in _ATTRIBUTE.finditer(tag["attributes"])
    }
    if "time" in attributes:
        time = _BREAK_TIME.fullmatch(attributes["time"])
        if time is None:
            raise InvalidInput(
                f'<break time="{attributes["time"][:40]}"/>: time is a number of seconds or milliseconds, '
                'as in <break time="500ms"/> or <break time="1.5s"/>'
            )
        ms = float(time["number"]) * (1 if time["unit"].lower() == "ms" else 1000)
        return round(min(ms, MAX_BREAK_MS))
    strength = attributes.get("strength", "medium").lower()
    if strength not in BREAK_STRENGTHS_MS:
        raise InvalidInput(f'<break strength="{strength[:40]}"/>: strength is one of {", ".join(BREAK_STRENGTHS_MS)}')
    return BREAK_STRENGTHS_MS[strength]


def _unescaped(text: str) -> str:
    """html.unescape, but a numeric reference too long to be a character is U+FFFD at once (as
    unescape makes any number past U+10FFFF), where unescape would convert all its digits to an
    int, and raise past 4,300 of them."""

    def shortened(reference: re.Match[str]) -> str:
        digits = reference["hex_digits"] or reference["digits"]
        return "\ufffd" if len(digits) > 8 else f"&#{reference['hex'] or ''}{digits}{reference['end']}"

    return html.unescape(_NUMERIC_REFERENCE.sub(shortened, text))
