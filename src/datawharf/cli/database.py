"""The migrated database a command works on, closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from datawharf.settings import Settings
from datawharf.store.db import Database, open_database


@contextmanager
def database() -> Iterator[Database]:
    db = open_database(Settings())
    try:
        yield db
    finally:
        db.dispose()
