"""pypinyin's phrase dictionary, read an entry at a time.

pypinyin reads its phrase dictionary (2.5 MB of JSON, 47,000 phrases) on import with one
`json.loads`: a single C call that holds the GIL for 0.2 s on an idle 2-core CPU and 0.6 s on a
busy one, so the first Mandarin request stalls the HTTP face's event loop (and every other
request, and the health probe) for that long, although its G2P runs in a worker thread. Read
here with one decoder call per entry, the interpreter switches threads between entries, and the
module is handed to pypinyin ready, so that its own load never runs.
"""

import importlib.util
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

MODULE = "pypinyin.phrases_dict"
_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def install() -> None:
    """Puts pypinyin's phrase dictionary module in place, read piecewise, unless pypinyin has
    read it already."""
    if MODULE in sys.modules:
        return
    spec = importlib.util.find_spec("pypinyin")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return
    module = types.ModuleType(MODULE)
    module.phrases_dict = json_object_in_pieces(  # type: ignore[attr-defined]
        (Path(spec.submodule_search_locations[0]) / "phrases_dict.json").read_text(encoding="utf8")
    )
    sys.modules[MODULE] = module


def json_object_in_pieces(text: str) -> dict[str, Any]:
    """A JSON object's text as `json.loads` reads it, decoded one key and one value at a time."""
    at = _skip_space(text, 0)
    if text[at : at + 1] != "{":
        raise ValueError(f"a JSON object starts with '{{', not {text[at : at + 1]!r}")
    read: dict[str, Any] = {}
    at = _skip_space(text, at + 1)
    if text[at : at + 1] == "}":
        return read
    while True:
        key, at = _DECODER.raw_decode(text, at)
        if not isinstance(key, str):
            raise ValueError(f"a JSON object's keys are strings, not {key!r}")
        at = _expect(text, at, ":")
        read[key], at = _DECODER.raw_decode(text, at)
        at = _skip_space(text, at)
        if text[at : at + 1] == "}":
            return read
        at = _expect(text, at, ",")


def _skip_space(text: str, at: int) -> int:
    return _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]  # matches the empty string


def _expect(text: str, at: int, mark: str) -> int:
    """Where the next value starts after `mark` (and the space around it) at `at`."""
    at = _skip_space(text, at)
    if text[at : at + 1] != mark:
        raise ValueError(f"expected {mark!r} at character {at} of a JSON object")
    return _skip_space(text, at + 1)
