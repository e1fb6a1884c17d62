"""A key file in the home folder, created once however many processes start on that folder together.

The key is written whole to a temporary file first, then linked to its final name: ``os.link`` fails if
the name exists, so exactly one process wins and every other reads the winner's complete key. A reader
never sees an empty or half-written key (what ``O_CREAT | O_EXCL`` then ``write`` allowed: the file
exists before its bytes do).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The key stored at ``path``; made by ``make()`` and stored (mode 0600) when there is none yet."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600, in the same folder (os.link does not cross file systems).
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        # FileExistsError: another process won; its key is complete, since it was linked whole.
        with suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes().strip()
