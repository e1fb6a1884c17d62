"""The metadata database: one engine per process, schema kept current by Alembic on start.

SQLite (the default, a file in the home folder) and PostgreSQL behave the same to the rest of datawharf;
the differences (foreign keys off by default, write concurrency) are handled here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.locks import file_lock, postgres_advisory_lock
from datawharf.store.schema_version import MIGRATIONS_DIR, migration_heads

# The lock taken by start-up work: the schema upgrade and the first admin key.
STARTUP_LOCK = "startup"


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the API read while a publish job writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    if not url.startswith("postgresql"):
        raise InvalidInput(
            f"Unsupported database URL scheme in DATAWHARF_DATABASE_URL: {url.split(':', 1)[0]!r}. "
            "Use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db.",
            error_code="unsupported_database",
        )
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Owns the engine and the session factory; made by the app lifespan or the CLI, never at import."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.effective_database_url
        settings.require_shared_secret_key()
        self.sqlite_file: Path | None = None
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            self.sqlite_file = Path(url.removeprefix("sqlite:///"))
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` across every process on this database while the block runs (see
        ``store/locks.py``): a PostgreSQL advisory lock, or a file lock beside the SQLite file."""
        if not self.is_sqlite:
            with postgres_advisory_lock(self.engine, name):
                yield
        elif self.sqlite_file is not None:
            with file_lock(self.sqlite_file.with_name(f"{self.sqlite_file.name}.{name}.lock")):
                yield
        else:  # an in-memory database belongs to this process alone
            yield

    def is_current(self) -> bool:
        """Whether the schema is already at every head: then ``migrate`` has nothing to do."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                stamped = {row[0] for row in rows}
        except DBAPIError:  # a new database: no version table yet
            return False
        return stamped == migration_heads()

    def migrate(self) -> None:
        """Bring the schema to the newest revision of every domain's branch (idempotent). Alembic is
        imported only when there is something to upgrade, and runs under the ``startup`` lock: of several
        processes starting together on an older schema, one upgrades and the others, once it is done,
        find the schema current."""
        if self.is_current():
            return
        with self.exclusive(STARTUP_LOCK):
            if not self.is_current():
                self._upgrade()

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    @contextmanager
    def session(self, *, write_lock: bool = False) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back on any exception.

        ``write_lock`` makes SQLite take its (database-wide) write lock with the first statement
        (``BEGIN IMMEDIATE``), so what the block reads cannot change before it writes: SQLite's
        counterpart of PostgreSQL's ``SELECT ... FOR UPDATE``, which the block still uses for PostgreSQL.
        """
        session = self._sessions()
        try:
            if write_lock and self.is_sqlite:
                session.execute(text("BEGIN IMMEDIATE"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """A migrated database, ready to use: what the server and every CLI command start with."""
    database = Database(settings)
    database.migrate()
    return database
