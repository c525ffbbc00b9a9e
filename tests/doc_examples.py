"""The code blocks of README.md and docs/*.md, each with the marker on the line before it that says
what it is, so that the tests can run every example as it is written.

    <!-- example: NAME -->       an example a test runs or checks, found by its NAME
    <!-- output: NAME -->        what the example NAME prints
    <!-- not run: WHY -->        a block in a language that runs, which the suite cannot run
"""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
#: the languages of blocks that run (a shell, Python, JavaScript and its components)
RUNNABLE = frozenset({"bash", "sh", "python", "javascript", "js", "jsx", "vue"})
#: a fenced block, with the marker on the line before it if there is one
_BLOCK = re.compile(
    r"(?:^<!-- (?P<kind>example|output|not run): *(?P<label>[^\n]*?) *-->\n)?"
    r"^```(?P<language>[\w-]*)\n(?P<code>.*?)^```$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    page: Path
    language: str
    code: str
    #: "example", "output", "not run", or None for a block without a marker
    kind: str | None
    #: an example's or an output's name; why a block is not run
    label: str


def blocks(pages: tuple[Path, ...] = PAGES) -> list[Block]:
    return [
        Block(page, match["language"], match["code"], match["kind"], match["label"] or "")
        for page in pages
        for match in _BLOCK.finditer(page.read_text(encoding="utf-8"))
    ]


def _named(kind: str, name: str) -> str:
    found = [block.code for block in blocks() if block.kind == kind and block.label == name]
    assert len(found) == 1, f"{len(found)} blocks are marked '<!-- {kind}: {name} -->' in README.md and docs/"
    return found[0]


def example(name: str) -> str:
    """The code of the example `name`, as the page shows it."""
    return _named("example", name)


def output(name: str) -> str:
    """What the page says the example `name` prints."""
    return _named("output", name)
