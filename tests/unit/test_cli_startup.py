"""CLI start-up (issue 16, item 1): a command imports only what it uses. ``datawharf --help`` paid 2.2-2.5 s
importing FastAPI, SQLAlchemy, DuckDB and pyarrow before it printed anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("fastapi", "starlette", "uvicorn", "duckdb", "pyarrow", "numpy", "boto3", "botocore", "alembic")


def _imported(home: Path, *args: str, env_extra: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The top-level packages a real ``python -m datawharf ARGS`` imported, read from ``-X importtime``."""
    env = {**os.environ, "DATAWHARF_HOME": str(home), "COLUMNS": "200", **(env_extra or {})}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "datawharf", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == (1 if env_extra else 0), done.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", done.stderr, re.MULTILINE)
    assert names, done.stderr[-2000:]
    return {name.split(".")[0] for name in names}, done.stdout


def test_help_imports_none_of_the_core_nor_its_libraries(tmp_path: Path) -> None:
    top, output = _imported(tmp_path, "--help")
    assert {"typer", "rich"} <= top
    assert not top & {*HEAVY, "sqlalchemy", "pydantic", "pydantic_settings"}, top
    for name in ("serve", "preview", "apikeys", "connections", "datasets"):
        assert name in output
    assert not (tmp_path / "datawharf.db").exists()  # --help opens nothing


def test_datasets_list_reads_a_current_sqlite_home_with_the_stdlib(tmp_path: Path) -> None:
    top, _ = _imported(tmp_path, "datasets", "list")  # the first command of a home migrates it...
    assert {"sqlalchemy", "alembic"} <= top
    top, output = _imported(tmp_path, "datasets", "list")  # ...the next ones find it current
    assert "dataset_id" in output
    assert not top & {*HEAVY, "sqlalchemy", "cryptography", "httpx"}, top


def test_server_mode_imports_httpx_and_not_the_engine(tmp_path: Path) -> None:
    """Through a server (here one that does not answer: the command fails, having imported what it needs)."""
    server = {"DATAWHARF_URL": "http://127.0.0.1:9", "DATAWHARF_API_KEY": "0" * 64}
    top, _output = _imported(tmp_path, "datasets", "list", env_extra=server)
    assert "httpx" in top
    assert not top & {*HEAVY, "sqlalchemy"}, top  # the list's server road skips the store as well
    top, _output = _imported(tmp_path, "preview", "x.csv", "--dataset", "d", env_extra=server)
    assert "httpx" in top and not top & set(HEAVY), top  # the engine stays on the server


def test_the_stdlib_listing_is_the_stores(tmp_path: Path) -> None:
    """``read_summaries`` (sqlite3) and ``service.list_datasets`` (the ORM) give the same rows, in order."""
    from datawharf.datasets import service
    from datawharf.datasets.summaries import read_summaries, summary_of
    from datawharf.settings import Settings
    from datawharf.store.db import Database, open_database

    settings = Settings(home=tmp_path)
    assert read_summaries(settings, limit=10) is None  # no database yet: the store's road
    Database(settings).dispose()
    assert read_summaries(settings, limit=10) is None  # a database not migrated: the store's road too
    db = open_database(settings)
    try:
        with db.session() as session:
            for title in ("Arbres de Paris", "Écoles", "Zones 30", "Arbres de Paris"):
                service.create_dataset(session, metadata={"default": {"title": {"value": title}}})
            untitled = service.create_dataset(session, metadata={}, dataset_id="untitled")
            untitled.is_published, untitled.current_version_uid = True, "ch_0000000000000000"
        with db.session() as session:
            _total, rows = service.list_datasets(session, limit=3, offset=0)
            expected = [summary_of(d) for d in rows]
            _total, rows = service.list_datasets(session, limit=10, offset=0)
            everything = [summary_of(d) for d in rows]
    finally:
        db.dispose()
    assert read_summaries(settings, limit=3) == expected
    assert read_summaries(settings, limit=10) == everything
    assert [s.title for s in everything] == ["Arbres de Paris", "Écoles", "Zones 30", "Arbres de Paris", ""]
    assert everything[-1].is_published and everything[-1].current_version_uid == "ch_0000000000000000"


def test_every_listed_command_loads_with_the_help_it_is_listed_with() -> None:
    from typer.testing import CliRunner

    from datawharf.cli import COMMANDS, app
    from datawharf.cli.datasets import DATASETS_COMMANDS

    runner = CliRunner()
    listed = [((), COMMANDS), (("datasets",), DATASETS_COMMANDS)]
    for group, table in listed:
        for name, lazy in table.items():
            command = lazy.load(name)
            assert command.name == name
            assert (command.help or "").startswith(lazy.help), name
            shown = runner.invoke(app, [*group, name, "--help"])
            assert shown.exit_code == 0 and "Usage" in shown.output, shown.output
    wrong = runner.invoke(app, ["datasets", "lis"])
    assert wrong.exit_code == 2 and "Did you mean 'list'" in wrong.output
    wrong = runner.invoke(app, ["datasets", "delete-versoin"])
    assert wrong.exit_code == 2 and "Did you mean 'delete-version'" in wrong.output
    wrong = runner.invoke(app, ["dataset"])
    assert wrong.exit_code == 2 and "Did you mean 'datasets'" in wrong.output


def test_wait_without_publish_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from datawharf.cli import app

    refused = CliRunner().invoke(app, ["datasets", "create", "--title", "t", "s3://b/k.csv", "--wait"])
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", refused.output).split())  # Rich's box, wrapped
    assert refused.exit_code == 2 and "--wait runs the publish here: give --publish with it" in shown, shown


def test_migration_heads_are_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from datawharf.store.schema_version import MIGRATIONS_DIR, migration_heads

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert migration_heads() == set(ScriptDirectory.from_config(config).get_heads())


@pytest.mark.parametrize("stamped", [None, "0001_apikeys"])
def test_a_database_behind_the_heads_is_still_migrated(tmp_path: Path, stamped: str | None) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from datawharf.settings import Settings
    from datawharf.store.db import Database
    from datawharf.store.schema_version import MIGRATIONS_DIR, migration_heads

    settings = Settings(home=tmp_path)
    fresh = Database(settings)
    try:
        assert not fresh.is_current()  # no version table at all
        if stamped:  # a database made by an older datawharf, at its first revision only
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            with fresh.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, stamped)
            assert not fresh.is_current()
        fresh.migrate()
        assert fresh.is_current()
        with fresh.engine.connect() as connection:
            versions = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
        assert versions == migration_heads()
    finally:
        fresh.dispose()
