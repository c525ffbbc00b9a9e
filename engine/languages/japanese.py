"""Japanese: misaki's cutlet G2P, a word at a time."""

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from . import Phonemizer, Word, split_at_cjk_marks
from .cjk import _LATIN_WORD, _NUMBER, G2PToken, cjk_words, english_words

if TYPE_CHECKING:
    from misaki import cutlet

#: misaki's num2kana reads at most 9 digits as one number; a longer one is read digit by digit
_MAX_JAPANESE_NUMBER_DIGITS = 9
_DIGITS = frozenset("0123456789０１２３４５６７８９")
#: a number, else one character with the combining marks and half-width sound marks that follow it
_JAPANESE_UNIT = re.compile(_NUMBER + r"|\S[\u0300-\u036f\u3099\u309a\uff9e\uff9f]*|\s", re.S)


def phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    return Phonemizer(code, _japanese(), split_at_cjk_marks, lexicon)


def _japanese() -> Callable[[str], list[Word]]:
    """misaki's cutlet G2P (what kokoro runs for Japanese: `ja.JAG2P()`'s default version), a
    word at a time: MeCab's tokens (fugashi with UniDic-lite), grouped as cutlet groups them into
    words, each romanised by cutlet. misaki.ja is not imported: it imports pyopenjtalk, which only
    its other version uses."""
    import jaconv
    from misaki import cutlet

    romaniser = cutlet.Cutlet()
    english = english_words()

    def phonemize(text: str) -> list[Word]:
        normalised, origin = _japanese_normalised(text, romaniser._normalize_text)
        nodes: list[tuple[cutlet.Word, int, int]] = []  # MeCab's, with their [start, end) in `normalised`
        cursor = 0
        for node in romaniser.tagger(normalised):
            start = normalised.find(node.surface, cursor)
            start = cursor if start < 0 else start
            cursor = start + len(node.surface)
            reading = jaconv.kata2hira(node.feature.pron or node.feature.kana or node.surface)
            char_type = 6 if node.char_type == 7 or not node.is_unk else node.char_type  # as Cutlet.__call__
            nodes.append((cutlet.Word(node.surface, reading, char_type), start, cursor))
        tokens = []
        for first, last in _cutlet_groups([word for word, _, _ in nodes]):
            group = [word for word, _, _ in nodes[first:last]]
            word = cutlet.Word("".join(w.surface for w in group), "".join(w.hira for w in group), group[0].char_type)
            if _LATIN_WORD.fullmatch(word.surface):
                phonemes = english(word.surface)
            else:  # as Cutlet._romaji_tokens and Cutlet.__call__ finish a word
                phonemes = _romaji(romaniser, word).replace("っ", "").replace("(", "«").replace(")", "»")
            start, end = origin[nodes[first][1]][0], origin[nodes[last - 1][2] - 1][1]
            tokens.append(G2PToken(start, end, phonemes.strip()))
        return cjk_words(text, tokens)

    return phonemize


def _romaji(romaniser: "cutlet.Cutlet", word: "cutlet.Word") -> str:
    """cutlet's reading of a word; a kana at a time where cutlet fails on the word (it raises
    KeyError on a long-vowel mark before a small kana, "ーァ")."""
    try:
        return romaniser._romaji_word(word)
    except (KeyError, IndexError):
        return "".join(romaniser.table.get(kana, "") if kana != "ー" else "ː" for kana in word.hira)


def _japanese_normalised(text: str, normalise: Callable[[str], str]) -> tuple[str, list[tuple[int, int]]]:
    """cutlet's normalisation (`normalise`: NFKC, half-width kana to full width, full-width Latin
    to ASCII), numbers to kana, a piece of the text at a time, with the [start, end) in `text`
    that each character of the result comes from."""
    parts: list[str] = []
    origin: list[tuple[int, int]] = []
    for unit in _JAPANESE_UNIT.finditer(text):
        written = unit.group()
        if written[0] in _DIGITS:
            normal = " " + _japanese_number(written)  # cutlet puts a space before a number
        elif written[0].isdecimal():  # a digit of another script ("٢"): num2kana reads only 0-9
            normal = " " + _japanese_number(str(unicodedata.decimal(written[0])))
        elif written in ("〜", "～") and text[unit.end() : unit.end() + 1] in _DIGITS:
            normal = "から"  # a range before a number: 3〜5 (cutlet's rule)
        else:
            normal = normalise(written)
        parts.append(normal)
        origin.extend([(unit.start(), unit.end())] * len(normal))
    return "".join(parts), origin


def _japanese_number(written: str) -> str:
    """A number in kana: misaki's num2kana for the whole part (up to 9 digits, else digit by
    digit), "ten" and the decimals digit by digit (num2kana fails on "0.5")."""
    from misaki.num2kana import Convert

    whole, _, decimals = unicodedata.normalize("NFKC", written).replace(",", "").partition(".")
    kana = Convert(whole) if len(whole) <= _MAX_JAPANESE_NUMBER_DIGITS else "".join(map(Convert, whole))
    return kana + ("てん" + "".join(map(Convert, decimals)) if decimals else "")


def _cutlet_groups(words: list["cutlet.Word"]) -> Iterable[tuple[int, int]]:
    """cutlet's words as [first, last) token ranges: a run of tokens of one character type is
    joined where it spells a word of misaki's ja_words list (misaki's cutlet.py, _romaji_tokens)."""
    from misaki.cutlet import JA_WORDS

    i = 0
    while i < len(words):
        z = next((z for z in range(i + 1, len(words)) if words[z].char_type != words[i].char_type), len(words))
        j = next((j for j in range(z, i, -1) if "".join(w.surface for w in words[i:j]) in JA_WORDS), i + 1)
        yield i, j
        i = j
