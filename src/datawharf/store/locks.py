"""Locks that several processes on one database take before work only one of them may do at a time.

Start-up is such work: the Alembic upgrade and the check-then-create of the first admin key (two
processes starting together on an empty database would both migrate, or both find no key). Whatever
needs the same guarantee later (a periodic task, a garbage collection) takes a lock here by name.

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``), held by one connection of its own for
  the whole block; the server drops it if the process dies, so a crash never leaves it taken.
- SQLite: ``fcntl.flock`` on a lock file beside the database file; the kernel drops it with the process.
  An in-memory database is one process's own: nothing to lock.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks are numbered, not named)."""
    return int.from_bytes(hashlib.sha256(f"datawharf:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def postgres_advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    """Wait for and hold the advisory lock ``name`` while the block runs."""
    key = advisory_key(name)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()  # the lock is the session's, not the transaction's: end the transaction
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Wait for and hold an exclusive ``flock`` on ``path`` (created if missing) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
