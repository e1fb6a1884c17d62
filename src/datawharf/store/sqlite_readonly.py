"""A read-only look at the default SQLite database through the stdlib, for commands that only list.

Importing SQLAlchemy and its ORM costs a CLI command 0.25-0.3 s before it does anything (issue 16:
``datawharf datasets list`` was 0.5-0.6 s, the goal 0.3). A command that only reads a few columns can ask
here first: it gets a connection when the database is SQLite and already at every migration head, and
``None`` otherwise (PostgreSQL, a home not created or not migrated yet), where it takes the store's usual
road (``store/db.py``), which migrates. Nothing is ever written through it (``mode=ro``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from datawharf.settings import Settings
from datawharf.store.schema_version import migration_heads

SQLITE_PREFIX = "sqlite:///"


def open_current_sqlite(settings: Settings) -> sqlite3.Connection | None:
    """A read-only connection to the SQLite database at every migration head, or ``None``."""
    url = settings.effective_database_url
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = Path(url.removeprefix(SQLITE_PREFIX))
    if not path.is_file():
        return None
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        stamped = {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.DatabaseError:  # no version table: never migrated
        stamped = set()
    if stamped != migration_heads():
        connection.close()
        return None
    return connection
