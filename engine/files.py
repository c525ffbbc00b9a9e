"""Cache files written whole: several processes may make the same file at once (servers starting
together), so each writes under a name of its own beside the file and renames it onto the file."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """`write(partial)` fills a fresh file beside `path`, which then replaces `path` in one step.
    Readable by all, as a cache made by one user (an image build) and read by another must be."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".partial")
    os.close(descriptor)
    try:
        os.chmod(partial, 0o644)
        write(Path(partial))
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
