"""The layout ARCHITECTURE.md describes: imports flow one way (service.py -> serving -> engine),
no protocol's face imports another's or is imported by the core, and every module stays small."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
FACES = ("tts", "openai", "cartesia", "books")
MAX_MODULE_LINES = 300


def imported_packages(module: Path) -> set[str]:
    """The dotted names a module imports, relative imports resolved against its package."""
    package = module.relative_to(ROOT).parent.parts
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("face", FACES)
def test_a_face_imports_no_other_face(face):
    others = tuple(f"serving.{other}" for other in FACES if other != face)
    for module in modules(f"serving/{face}"):
        wrong = {name for name in imported_packages(module) if name.startswith(others)}
        assert not wrong, f"{module.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_core_imports_no_face_and_the_engine_nothing_above_it():
    core_above = ("serving.app", *(f"serving.{face}" for face in FACES))
    for folder, above in (("serving/core", core_above), ("engine", ("serving",))):
        for module in modules(folder):
            wrong = {name for name in imported_packages(module) if name.startswith(above) or name == "service"}
            assert not wrong, f"{module.relative_to(ROOT)} imports {sorted(wrong)}"


def test_no_module_in_serving_or_engine_is_over_300_lines():
    long = {
        str(module.relative_to(ROOT)): lines
        for module in modules("serving") + modules("engine")
        if (lines := len(module.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_the_serving_tests_mirror_the_serving_tree():
    """A module's tests are found where the module is: tests/serving/core/ for serving/core/, one
    folder per face, and at the top only the tests of serving/'s own modules (app.py)."""
    tests = ROOT / "tests" / "serving"
    folders = {path.name for path in tests.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders == {path.name for path in (ROOT / "serving").iterdir() if (path / "__init__.py").is_file()}
    top = {path.name.removeprefix("test_") for path in tests.glob("test_*.py")}
    assert top <= {path.name for path in (ROOT / "serving").glob("*.py")}, top
