"""A server-wide pronunciation lexicon: how names and brands are said, per language.

A JSON file named by KOKORO_LEXICON, keyed by language code (kokoro's letters, or the names
`lang` accepts), each a map from a word to its phonemes in Kokoro's alphabet:

    {"en-us": {"Kokoro": "kˈOkəɹO", "BentoML": "bˈɛntO ˌɛm ˈɛl"}, "fr": {"Kokoro": "kɔkɔʁo"}}

A word matches whatever its case ("kokoro" too); the user's spelling stays in the timestamps.
For one word in one request, the inline `[word](/phonemes/)` does the same.
"""

import json
from collections.abc import Mapping
from pathlib import Path

from .errors import UnknownLanguage
from .languages import resolve_language

#: language code -> a word, case-folded -> its phonemes
Lexicon = dict[str, dict[str, str]]


class LexiconError(ValueError):
    pass


def load_lexicon(path: Path, vocab: Mapping[str, int]) -> Lexicon:
    """Reads and checks the file: a language no voice speaks, or a phoneme the model does not know,
    is an error at start, not a silent mispronunciation later."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LexiconError(f"KOKORO_LEXICON={path}: {error}") from error
    if not isinstance(raw, dict):
        raise LexiconError(f"KOKORO_LEXICON={path}: expected an object of languages, each of words")
    lexicon: Lexicon = {}
    for language, entries in raw.items():
        try:
            code = resolve_language(language, "")
        except UnknownLanguage as error:
            raise LexiconError(f"KOKORO_LEXICON={path}: {error}") from error
        if not isinstance(entries, dict) or not all(isinstance(p, str) for p in entries.values()):
            raise LexiconError(f"KOKORO_LEXICON={path}: '{language}' must map words to phonemes")
        for word, phonemes in entries.items():
            unknown = sorted({c for c in phonemes if c not in vocab})
            if unknown:
                raise LexiconError(f"KOKORO_LEXICON={path}: '{word}' ({language}): phonemes the model does not know: "
                                   + " ".join(unknown))  # fmt: skip
            if not phonemes.strip():
                raise LexiconError(f"KOKORO_LEXICON={path}: '{word}' ({language}): no phonemes")
            lexicon.setdefault(code, {})[word.casefold()] = phonemes
    return lexicon
