"""Reading the requirements files and the locks made from them (deploy/lock.sh)."""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
#: one requirement of a lock, its continuation lines joined: a name, '==', an exact version, and
#: the sha256 digests of its files, nothing else (no ranges, markers or URLs)
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)"
    r"(?P<hashes>(?: +--hash=sha256:[0-9a-f]{64})*)$"
)


def read_locked(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Every requirement of a lock file, as name -> (version, the sha256 digests it allows); fails
    on any requirement that is not `name==version`, with or without `--hash=sha256:` options."""
    locked: dict[str, tuple[str, frozenset[str]]] = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        line = " ".join(line.split())
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line[:200]!r} is not an exact pin (name==version, hashes)"
        name = canonicalize_name(match["name"])
        hashes = frozenset(re.findall(r"sha256:([0-9a-f]{64})", match["hashes"]))
        version, known = locked.get(name, (match["version"], frozenset()))
        assert version == match["version"], f"{name} pinned twice, differently"
        locked[name] = (version, known | hashes)
    return locked


def read_pins(path: Path) -> dict[str, str]:
    """Every requirement of a lock file, as name -> version."""
    return {name: version for name, (version, _) in read_locked(path).items()}


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
