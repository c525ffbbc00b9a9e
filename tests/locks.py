"""Reading the requirements files and the locks made from them (deploy/lock.sh)."""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
#: one line of a lock: a name, '==', an exact version, nothing else (no ranges, markers or URLs)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def read_pins(path: Path) -> dict[str, str]:
    """Every requirement line of a lock file, as name -> version; fails on any line that is not `name==version`."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(match["name"])
        assert pins.get(name, match["version"]) == match["version"], f"{name} pinned twice, differently"
        pins[name] = match["version"]
    return pins


def read_requirements(path: Path) -> list[Requirement]:
    """A requirements file's requirements, with those of the files it includes (`-r`); a
    constraints file (`-c`) requires nothing."""
    requirements: list[Requirement] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            requirements += read_requirements(path.parent / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-c "):
            requirements.append(Requirement(line))
    return requirements
