"""The migrated database a command works on, closed when the command ends; the home named on stderr first
(``common.announce_home``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from datawharf.cli.common import announce_home
from datawharf.settings import Settings
from datawharf.store.db import Database, open_database


@contextmanager
def database() -> Iterator[Database]:
    settings = Settings()
    announce_home(settings)
    db = open_database(settings)
    try:
        yield db
    finally:
        db.dispose()
