"""Mandarin: misaki's legacy Mandarin G2P, a jieba word at a time."""

import re
import unicodedata
from collections.abc import Callable, Mapping

from . import Phonemizer, Word, pinyin_phrases, split_at_cjk_marks
from .cjk import _LATIN_WORD, _NUMBER, G2PToken, cjk_words, english_words

_MAX_MANDARIN_NUMBER_DIGITS = 16
_CHINESE_DIGITS = str.maketrans("0123456789.", "零一二三四五六七八九点")


def phonemizer(code: str, lexicon: Mapping[str, str]) -> Phonemizer:
    return Phonemizer(code, _mandarin(), split_at_cjk_marks, lexicon)


#: a Mandarin sentence's tokens: numbers (dates with their 年月日 read as cn2an reads them), runs of
#: Han characters (jieba splits them into words), Latin words, spaces, any other single character
_MANDARIN_PIECE = re.compile(
    rf"(?P<number>(?:[0-9０-９]+[年月日号])+|{_NUMBER}[%％]?)"
    r"|(?P<han>[\u4e00-\u9fff]+)"
    rf"|(?P<latin>{_LATIN_WORD.pattern})"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


#: Mandarin measure words, after which a lone 2 is read 两 (liǎng)
_MEASURE_WORDS = frozenset("个本只张次位块件条台辆双对把杯瓶碗种样份篇首部口头匹棵朵间层所家名岁天年周点分秒")


def _mandarin() -> Callable[[str], list[Word]]:
    """misaki's Mandarin G2P as kokoro runs it for Kokoro-82M v1.0 (`zh.ZHG2P()`, its legacy path:
    jieba's words, pinyin to IPA, numbers read by cn2an), a jieba word at a time."""
    import logging

    import jieba

    pinyin_phrases.install()  # before misaki imports pypinyin, whose own read of it stalls the GIL
    from misaki import zh

    g2p = zh.ZHG2P()
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loads the dictionary now (about 1 s), not during the first request
    english = english_words()

    def phonemize(text: str) -> list[Word]:
        tokens = []
        for match in _MANDARIN_PIECE.finditer(text):
            kind, written, at = match.lastgroup, match.group(), match.start()
            if kind == "han":
                for word, start, end in jieba.tokenize(written):
                    # chr(815) is the combining mark that legacy_call removes
                    tokens.append(G2PToken(at + start, at + end, zh.ZHG2P.word2ipa(word).replace(chr(815), "")))
            elif kind == "number":
                plain = re.sub(r"(?<=\d),(?=\d{3})", "", unicodedata.normalize("NFKC", written))
                if sum(c.isdigit() for c in plain) > _MAX_MANDARIN_NUMBER_DIGITS:
                    plain = plain.translate(_CHINESE_DIGITS)  # cn2an leaves it in digits: read digit by digit
                counted = text[match.end() : match.end() + 1] in _MEASURE_WORDS and text[at - 1 : at] != "第"
                if plain == "2" and counted:
                    plain = "两"  # a count before a measure word: liǎng, not èr ("2本书"; "第2天" stays èr)
                tokens.append(G2PToken(at, match.end(), g2p(plain)[0]))
            elif kind == "latin":
                tokens.append(G2PToken(at, match.end(), english(written)))
            elif kind == "other":
                tokens.append(G2PToken(at, match.end(), zh.ZHG2P.map_punctuation(written).strip()))
        return cjk_words(text, tokens)

    return phonemize
