"""App and database fixtures: a real app (lifespan and all) on SQLite or on the real PostgreSQL server.

Datasette's ``make_app_client()`` is the model: one context manager, one-line variants as fixtures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from datawharf.api.app import create_app
from datawharf.settings import Settings
from tests.support import reference

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BOOTSTRAP_KEY = "test-bootstrap-key-0123456789abcdef"
AUTH = {"Authorization": f"apikey {BOOTSTRAP_KEY}"}
# What DATAWHARF_SECRET_KEY is in tests on PostgreSQL, where it is required (a valid Fernet key).
SHARED_SECRET_KEY = "dGVzdC1zaGFyZWQtc2VjcmV0LWtleS0wMTIzNDU2Nzg="


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new empty database on the local server, dropped afterwards; skips where there is no server."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 (database 'test'): {exc}")
    name = f"dw_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def make_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"home": home, "bootstrap_api_key": BOOTSTRAP_KEY}
    if not str(overrides.get("database_url") or "sqlite").startswith("sqlite"):
        values["secret_key"] = SHARED_SECRET_KEY
    values.update(overrides)
    return Settings(**values)


@contextmanager
def make_app_client(settings: Settings) -> Iterator[TestClient]:
    """A client on a real app; the lifespan (migrations, bootstrap key) runs on enter.

    Every 2xx management-API answer it receives is checked against the reference (tests/support/reference.py).
    """
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(AUTH)
        reference.install(client)
        yield client


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    with make_app_client(make_settings(tmp_path)) as client:
        yield client
