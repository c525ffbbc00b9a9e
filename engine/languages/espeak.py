"""Spanish, French, Hindi, Italian and Brazilian Portuguese: espeak-ng through misaki, a sentence
at a time, each word handed back to the user's text."""

import re
from collections.abc import Callable, Mapping

from ..reading import INLINE_PRONUNCIATION
from . import ESPEAK_LANGUAGES, Phonemizer, Word, between_marks

#: num2words' name for those of them it spells numbers in, and how each says a decimal comma
NUM2WORDS_LANGUAGES = {"es": "es", "fr-fr": "fr", "it": "it", "pt-br": "pt_BR"}
DECIMAL_COMMAS = {"es": "coma", "fr": "virgule", "it": "virgola", "pt_BR": "vírgula"}
#: the most digits num2words reads as one number in every one of these languages (Portuguese's
#: limit is 10^18); a longer number is read digit by digit
MAX_NUMBER_DIGITS = 18
#: a number as these languages write it: "1.000" thousands, "2,5" a decimal; not an ordinal ("1er")
_ESPEAK_NUMBER = re.compile(r"(?<![\w.,])(?P<whole>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<fraction>\d+))?(?!\w|[.,]\d)")


def phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    return Phonemizer(code, _espeak(ESPEAK_LANGUAGES[code]), lexicon=lexicon)


def _espeak(language: str) -> Callable[[str], list[Word]]:
    """espeak reads the whole sentence, so that what happens between words is said (French
    liaison: "les amis" is lez amˈi, not lˈe amˈi), and its words are handed back to the text's
    words by how many each says alone (a number says several). Where the counts disagree, the
    sentence is read a word at a time, as each word's timestamp needs."""
    from misaki import espeak
    from num2words import num2words

    g2p = espeak.EspeakG2P(language=language)
    spelling = NUM2WORDS_LANGUAGES.get(language)

    def number_said(digits: str) -> str:
        """A whole number's words; one too long for num2words, digit by digit."""
        if len(digits) > MAX_NUMBER_DIGITS:
            return " ".join(num2words(int(digit), lang=spelling) for digit in digits)
        return num2words(int(digits), lang=spelling).replace(",", "")

    def said(number: re.Match[str]) -> str:
        whole = number_said(number["whole"].replace(".", ""))
        fraction = number["fraction"]
        if fraction is None:
            return whole
        zeros = [num2words(0, lang=spelling)] * (len(fraction) - len(fraction.lstrip("0")))
        rest = [number_said(fraction.lstrip("0"))] if fraction.strip("0") else []
        return " ".join([whole, DECIMAL_COMMAS[spelling], *zeros, *rest])

    def spelled(word: str) -> str:
        """espeak says a number in digits as if alone, and "2,5" as "two five"; spelled out, a
        number joins the sentence ("cien personas" is θjˈem peɾsˈonas)."""
        return word if spelling is None else _ESPEAK_NUMBER.sub(said, word)

    def phonemize(text: str) -> list[Word]:
        # an inline pronunciation, [word](/phonemes/), is its word to espeak and its phonemes to the model
        given: dict[int, str] = {}
        words = []
        for n, written in enumerate(INLINE_PRONUNCIATION.sub(_one_token, text).split()):
            written = written.replace("\0", " ")
            inline = INLINE_PRONUNCIATION.search(written)
            around = (written[: inline.start()], written[inline.end() :]) if inline else ("", "")
            if inline and inline[2].startswith("/") and not any(c.isalnum() for c in "".join(around)):
                given[n] = between_marks(around[0], inline[2].strip("/"), around[1])
                written = around[0] + inline[1] + around[1]
            words.append(written)
        said = [spelled(word) for word in words]
        alone = [g2p(word)[0].strip() for word in said]
        together = g2p(" ".join(said))[0].split()
        counts = [len(phonemes.split()) for phonemes in alone]
        if sum(counts) == len(together):
            alone, at = [], 0
            for count in counts:
                alone.append(" ".join(together[at : at + count]))
                at += count
        pairs = enumerate(zip(words, alone, strict=True))
        return [Word(word, given.get(n, phonemes), True) for n, (word, phonemes) in pairs]

    return phonemize


def _one_token(link: re.Match[str]) -> str:
    """An inline pronunciation kept in one whitespace-separated token (NUL for its spaces)."""
    return link.group().replace(" ", "\0")
