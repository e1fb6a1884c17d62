"""The metadata store on both engines: migrations apply (twice, idempotently) and keys round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from datawharf import apikeys
from datawharf.errors import AuthenticationFailed
from datawharf.settings import Settings
from datawharf.store.db import MIGRATIONS_DIR, make_engine, open_database
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


def test_published_metadata_migration_keeps_what_explore_showed(database_url: str, tmp_path: Path) -> None:
    """0005_published_metadata: a dataset published before it keeps its metadata as the published copy;
    an unpublished one has none (its first publish makes it)."""
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    metadata = '{"default": {"title": {"value": "Before"}}}'
    columns = (
        "uid, dataset_id, metadata, is_restricted, is_published, status, status_since, records_errors, "
        "errors_count, run_only_if_changed, bytes_done, records_done, created_at, updated_at"
    )
    row = "'{uid}', '{uid}', :metadata, false, {published}, 'idle', :now, '[]', 0, false, 0, 0, :now, :now"
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003_datasets")
            for uid, published in (("da_before", "true"), ("da_draft", "false")):
                values = row.format(uid=uid, published=published)
                connection.execute(
                    text(f"INSERT INTO datasets ({columns}) VALUES ({values})"),
                    {"metadata": metadata, "now": "2024-01-01 00:00:00+00:00"},
                )
            command.upgrade(config, "heads")
            shown = dict(connection.execute(text("SELECT uid, published_metadata FROM datasets")).all())
    finally:
        engine.dispose()
    loaded = {uid: json.loads(value) if isinstance(value, str) else value for uid, value in shown.items()}
    assert loaded == {"da_before": {"default": {"title": {"value": "Before"}}}, "da_draft": None}
