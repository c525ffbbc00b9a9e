"""The CPU install has no torch (tests/test_requirements.py keeps it out of the lock): with torch,
kokoro and transformers unimportable, the engine speaks with the real weights, the service
module loads, and the unit tier runs."""

import subprocess
import sys

import pytest

from tests.locks import ROOT

pytestmark = pytest.mark.weights

#: makes torch, kokoro and transformers unimportable in the interpreter that runs it first
WITHOUT_TORCH_PACKAGES = """
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "kokoro", "transformers"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""

#: run in a fresh interpreter in which torch, kokoro and transformers cannot be imported, as in
#: the CPU install: the engine speaks every language family, and the service module loads
WITHOUT_TORCH = (
    WITHOUT_TORCH_PACKAGES
    + """
from engine.device import choose_device, torch_installed
from engine.settings import ModelSettings, TextSettings
from engine.tts import KokoroEngine

assert not torch_installed() and choose_device("auto") == "cpu"
engine = KokoroEngine.load(ModelSettings.from_env(), TextSettings.from_env())
for voice, text in [("af_heart", "It is 5 degrees."), ("jf_alpha", "こんにちは。"), ("zf_xiaobei", "你好。"),
                    ("ff_siwis", "Bonjour.")]:
    chunks = list(engine.speak(text, voice))
    assert chunks and all(len(chunk.samples) > 2_400 and chunk.words for chunk in chunks), voice
import service
print("spoke without torch:", sorted(name for name in sys.modules if name.split(".")[0] in {"torch", "kokoro"}))
"""
)


def test_the_cpu_server_needs_no_torch():
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "spoke without torch: []" in done.stdout


#: the unit tier, in-process, after the finder above
UNIT_TIER = (
    WITHOUT_TORCH_PACKAGES
    + """
import pytest
code = pytest.main(["-m", "unit", "-q", "-p", "no:cacheprovider"])
print("imported:", sorted({name.split(".")[0] for name in sys.modules} & {"torch", "kokoro", "transformers"}))
sys.exit(code)
"""
)


def test_the_unit_tier_runs_without_torch():
    done = subprocess.run([sys.executable, "-c", UNIT_TIER], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "imported: []" in done.stdout
    assert " passed" in done.stdout, done.stdout[-500:]
