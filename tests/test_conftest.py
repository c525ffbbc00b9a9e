"""The tier plumbing of tests/conftest.py: what a module's source declares, and which modules `-m` imports."""

import pytest

from tests.conftest import TIERS, declared_tiers, pytest_collection_modifyitems, pytest_ignore_collect

pytestmark = pytest.mark.unit

MODULE = """
import pytest

pytestmark = [pytest.mark.server, pytest.mark.skipif(False, reason="")]


@pytest.mark.image
@pytest.mark.parametrize("x", [1])
def test_built(x):
    assert pytest.mark.anyio
"""


def test_a_modules_tiers_are_read_from_its_source_module_wide_and_per_test(tmp_path):
    module = tmp_path / "test_example.py"
    module.write_text(MODULE)
    assert declared_tiers(module) == {"server", "image"}


def test_a_module_without_tier_marks_declares_none(tmp_path):
    module = tmp_path / "test_plain.py"
    module.write_text("import pytest\n\n\n@pytest.mark.parametrize('x', [1])\ndef test_x(x):\n    pass\n")
    assert declared_tiers(module) == set()


def test_the_tiers_are_the_markers_pyproject_declares(pytestconfig):
    declared = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(TIERS) <= declared


class Options:
    """What pytest_ignore_collect reads of pytest's config: the `-m` expression."""

    def __init__(self, expression: str):
        self.expression = expression

    def getoption(self, name: str) -> str:
        assert name == "markexpr"
        return self.expression


@pytest.mark.parametrize(
    ("expression", "ignored"),
    [("unit", True), ("unit or http", True), ("server", None), ("image", None), ("not server", None), ("", None)],
)
def test_a_module_is_left_unimported_only_when_the_selection_needs_none_of_its_tiers(tmp_path, expression, ignored):
    module = tmp_path / "test_example.py"
    module.write_text(MODULE)
    assert pytest_ignore_collect(module, Options(expression)) is ignored


def test_a_module_that_declares_no_tier_and_files_that_are_no_test_modules_are_always_collected(tmp_path):
    plain, helper = tmp_path / "test_plain.py", tmp_path / "helpers.py"
    plain.write_text("def test_x():\n    pass\n")
    helper.write_text(MODULE)
    assert pytest_ignore_collect(plain, Options("unit")) is None
    assert pytest_ignore_collect(helper, Options("unit")) is None


class Item:
    """What pytest_collection_modifyitems reads of a test: its name and its marks."""

    def __init__(self, nodeid: str, *tiers: str):
        self.nodeid = nodeid
        self.marks = [getattr(pytest.mark, tier).mark for tier in tiers]

    def iter_markers(self):
        return iter(self.marks)


def test_the_tiers_run_cheapest_first_each_in_its_own_order():
    items = [Item("server_a", "server"), Item("unit_a", "unit"), Item("server_b", "server"), Item("http_a", "http")]
    items += [Item("unit_b", "unit"), Item("browser_a", "browser")]
    pytest_collection_modifyitems(items)
    assert [item.nodeid for item in items] == ["unit_a", "unit_b", "http_a", "server_a", "server_b", "browser_a"]


@pytest.mark.parametrize("tiers", [(), ("unit", "server")])
def test_a_test_without_one_tier_is_refused(tiers):
    with pytest.raises(pytest.UsageError, match="mark one of"):
        pytest_collection_modifyitems([Item("test_x", *tiers)])
