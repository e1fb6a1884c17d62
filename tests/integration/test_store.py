"""The metadata store on both engines: migrations apply (twice, idempotently) and keys round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from datawharf import apikeys
from datawharf.errors import AuthenticationFailed
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.support.app import make_settings


def test_migrations_apply_and_keys_round_trip(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    database = open_database(settings)
    database.migrate()  # a second start changes nothing
    try:
        assert "api_keys" in inspect(database.engine).get_table_names()
        with database.session() as session:
            created = apikeys.create_key(session, "ops", ["edit_domain"])
        with database.session() as session:
            found = apikeys.authenticate(session, created.key)
            assert found.uid == created.api_key.uid
            assert found.last_used_at is not None
            apikeys.revoke_key(session, found.uid)
        with database.session() as session, pytest.raises(AuthenticationFailed):
            apikeys.authenticate(session, created.key)
    finally:
        database.dispose()


def test_key_is_stored_hashed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    database = open_database(settings)
    with database.session() as session:
        created = apikeys.create_key(session, "ops", [])
        clear = created.key
        assert clear not in repr(created)
    database.dispose()
    assert clear.encode() not in (tmp_path / "datawharf.db").read_bytes()
