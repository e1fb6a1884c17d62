"""A fresh PostgreSQL database for one bench run, dropped at its end.

The benches that need the distributed job backend (``bench.parts``) run on a database of their own, so a
run never meets the jobs or datasets of another one, and leaves nothing behind. The tests have their
own helper (it skips where there is no server); this one raises, naming the fix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(RuntimeError):
    pass


@contextmanager
def fresh_database(admin_dsn: str = ADMIN_DSN, prefix: str = "dw_bench_") -> Iterator[str]:
    """A new empty database on the server ``admin_dsn`` reaches; yields its SQLAlchemy URL (with the
    psycopg driver, as ``DATAWHARF_DATABASE_URL`` takes it) and drops it afterwards, even if sessions
    are still open on it."""
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL is not reachable at {admin_dsn!r} ({exc}): start the server, or pass "
            "--postgres with the DSN of a role that may create databases."
        ) from exc
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    info = conninfo_to_dict(admin_dsn)
    url = URL.create(
        "postgresql+psycopg",
        username=str(info.get("user") or "postgres"),
        password=str(info["password"]) if info.get("password") else None,
        host=str(info.get("host") or "127.0.0.1"),
        port=int(info.get("port") or 5432),
        database=name,
    )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
