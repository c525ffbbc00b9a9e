"""The docs hold to the code: every example in README.md and docs/ is run by a test (or checked
here against what it shows), and every relative link in the repository's Markdown resolves."""

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from engine.config import kokoro_config
from engine.lexicon import load_lexicon
from schemas import StreamChunkEvent, StreamDoneEvent, TTSResponse
from tests.conftest import TIERS
from tests.doc_examples import ROOT, RUNNABLE, blocks, example

pytestmark = pytest.mark.unit

#: the examples checked in this module rather than run against a server
CHECKED_HERE = frozenset({"tts-response", "ndjson-stream", "lexicon", "nginx-location"})
#: a call in a test that takes an example by its name
_USES_EXAMPLE = re.compile(r"\b(?:example|as_written|run)\(\s*\"([\w-]+)\"")
#: folders whose Markdown is not the repository's own
_NOT_OURS = frozenset({"node_modules", "build", "test-artifacts"})
#: a Markdown link, its target up to a space or the closing bracket
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^```.*?^```$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def readme_commands() -> tuple[str, str]:
    """The README's first two blocks: the serve command (which tests/live.py runs as ./serve.sh)
    and the test command (which CI runs)."""
    serve, test = [block.code.strip() for block in blocks((ROOT / "README.md",))[:2]]
    return serve, test


def test_every_block_in_a_language_that_runs_is_an_example_or_says_why_not():
    unmarked = [
        f"{block.page.name}: ```{block.language} {block.code[:60]!r}"
        for block in blocks()
        if block.language in RUNNABLE
        and block.kind not in ("example", "not run")
        and block.code.strip() not in readme_commands()
    ]
    assert not unmarked, "mark each with <!-- example: NAME --> and run it in a test, or <!-- not run: why -->"


def test_every_marker_names_what_it_marks():
    assert all(block.label for block in blocks() if block.kind is not None)
    names = Counter(block.label for block in blocks() if block.kind == "example")
    assert [name for name, count in names.items() if count > 1] == []


def test_every_example_is_run_or_checked_by_a_test():
    sources = [path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py")]
    run_by_tests = {name for source in sources for name in _USES_EXAMPLE.findall(source)}
    examples = {block.label for block in blocks() if block.kind == "example"}
    assert examples - run_by_tests - CHECKED_HERE == set()


def test_the_readmes_commands_are_what_ci_and_the_live_servers_run():
    serve, test = readme_commands()
    assert serve.endswith("./serve.sh") and "pip install -r requirements.txt" in serve
    ci = (ROOT / ".ci" / "run").read_text()
    installed = re.search(r"apt-get install -y (.+?) &&", test)
    assert installed and re.search(rf"apt-get install -y -qq {re.escape(installed[1])} ", ci)
    assert "pip install -q -r requirements-dev.txt" in ci and "pip install -r requirements-dev.txt" in test
    assert test.endswith(".venv/bin/python -m pytest") and "\n.venv/bin/python -m pytest\n" in ci


def test_the_readme_names_each_tier_and_its_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for tier in TIERS:
        assert re.search(rf"^\| {tier} \|.*`\.venv/bin/python -m pytest -m {tier}\b", readme, re.M), tier


def test_the_documented_json_answer_is_the_response_model():
    TTSResponse.model_validate_json(example("tts-response"))


def test_the_documented_stream_lines_are_the_stream_events():
    chunk, done = example("ndjson-stream").strip().splitlines()
    StreamChunkEvent.model_validate_json(chunk)
    StreamDoneEvent.model_validate_json(done)


def test_the_documented_lexicon_loads(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text(example("lexicon"), encoding="utf-8")
    lexicon = load_lexicon(path, kokoro_config()["vocab"])
    assert set(lexicon) == {"a", "e"} and lexicon["a"]["kokoro"] == json.loads(example("lexicon"))["en-us"]["Kokoro"]


def test_the_documented_nginx_location_is_the_tested_configuration():
    """Each directive of the minimal location, but where it sends to, is as deploy/nginx.conf has it."""
    tested = {" ".join(line.split()) for line in (ROOT / "deploy" / "nginx.conf").read_text().splitlines()}
    directives = [" ".join(line.split()) for line in example("nginx-location").splitlines()[1:-1]]
    assert [d for d in directives if not d.startswith("proxy_pass ") and d not in tested] == []


def markdown_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in _NOT_OURS]
        found += [Path(folder) / name for name in files if name.endswith(".md")]
    return sorted(found)


def prose(text: str) -> str:
    """Markdown without its code: a link shown in code is no link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives the page's headings: lower case, punctuation but '-' dropped, spaces
    as '-', and a repeated one numbered."""
    seen: Counter[str] = Counter()
    ids = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return ids


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or ROOT not in (linked, *linked.parents):
            broken.append(f"{target}: no such file in the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading '#{anchor}' in {linked.relative_to(ROOT)}")
    return broken


@pytest.mark.parametrize("page", markdown_files(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path.resolve())
    root = tmp_path.resolve()
    (root / "other.md").write_text("# A heading\n")
    page = root / "page.md"
    links = "[a](other.md#a-heading) [b](missing.md) [c](other.md#nowhere) `[d](in-code.md)` [e](#here)"
    page.write_text(f"{links}\n## Here\n")
    assert broken_links(page) == [
        "missing.md: no such file in the repository",
        "other.md#nowhere: no heading '#nowhere' in other.md",
    ]
