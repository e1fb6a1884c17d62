"""Several datawharf processes on one database or one home, started together (issue 14, items 3 and 6).

Each case races real processes on an empty store and counts what they made: one schema, one admin key,
one encryption key that every process reads whole, one publish per due schedule. The PostgreSQL cases
run on a fresh database of the local server (skipped with the reason where there is none).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.sql import Executable

from datawharf.store.models import ApiKey
from datawharf.store.models.datasets import Dataset, DatasetSchedule
from datawharf.store.schema_version import migration_heads
from tests.support.app import SHARED_SECRET_KEY, fresh_postgres_database, make_app_client, make_settings
from tests.support.explore import publish_csv
from tests.support.moto import S3Bucket
from tests.support.processes import serve_log, start_serve, stop, wait_until_answers
from tests.support.racers import Racers

FIRST_KEY_BANNER = "An admin API key was created"


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """An empty metadata database of ``kind``: a SQLite file in ``folder``, or a fresh PostgreSQL one."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'shared.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def first_column(url: str, query: Executable) -> list[object]:
    """The first column of ``query``'s rows, read on a connection of the test's own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(query).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("kind", "trials"), [pytest.param("postgresql", 7, marks=pytest.mark.postgres), ("sqlite", 2)]
)
def test_three_servers_started_together_on_an_empty_database(kind: str, trials: int, tmp_path: Path) -> None:
    """All three come up on one migrated schema, and exactly one of them made (and printed) an admin key."""
    for trial in range(trials):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        with store_url(kind, folder) as url, ExitStack() as stack:
            env = {"DATAWHARF_DATABASE_URL": url, "DATAWHARF_SECRET_KEY": SHARED_SECRET_KEY}
            homes = [folder / f"home{n}" for n in range(3)]  # one per "machine"
            servers = [start_serve(home, env) for home in homes]
            for _base_url, process in servers:
                stack.callback(stop, process)
            for base_url, process in servers:
                wait_until_answers(f"{base_url}/health", process, timeout=120)
                assert httpx.get(f"{base_url}/health", timeout=10).json() == {"status": "ok"}
            assert first_column(url, select(func.count()).select_from(ApiKey)) == [1], f"trial {trial}"
            assert (
                set(first_column(url, text("SELECT version_num FROM alembic_version"))) == migration_heads()
            )
            banners = [serve_log(home).read_text().count(FIRST_KEY_BANNER) for home in homes]
            assert sorted(banners) == [0, 0, 1], f"trial {trial}: {banners}"


def test_four_processes_on_one_new_home_share_one_key(tmp_path: Path) -> None:
    """20 new homes, each first used by 4 processes at once: one complete key file, no leftover, and
    every process decrypts the secrets the other three encrypted."""
    with Racers(4) as racers:
        for trial in range(20):
            home = tmp_path / f"home{trial}"
            secrets = [f"secret {trial}-{n}" for n in range(4)]
            answers = racers.race([{"op": "encrypt", "home": str(home), "secret": s} for s in secrets])
            assert all("ok" in answer for answer in answers), answers
            tokens = [answer["ok"] for answer in answers]
            assert sorted(path.name for path in home.iterdir()) == ["secret.key"]
            assert len((home / "secret.key").read_bytes().strip()) == 44  # a whole Fernet key
            decrypted = racers.race({"op": "decrypt", "home": str(home), "tokens": tokens})
            assert decrypted == [{"ok": secrets}] * 4, f"trial {trial}"


@pytest.mark.parametrize("kind", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_two_scheduling_passes_queue_one_publish(kind: str, tmp_path: Path, s3_bucket: S3Bucket) -> None:
    """Two processes make the scheduling pass together on a due schedule, five times: one publish is
    queued each time, its run_uid stays, and a pass after them finds nothing due."""
    with store_url(kind, tmp_path) as url:
        settings = make_settings(
            tmp_path / "home",
            database_url=url,
            allowed_private_hosts=[s3_bucket.server.host_port],
            scheduler_interval=3600,  # the app's own scheduler stays out of the race
        )
        with make_app_client(settings) as client:
            uid = publish_csv(
                client, s3_bucket.server, s3_bucket.name, "due.csv", b"a;b\n1;2\n", "Due", publish=False
            )["uid"]
            created = client.post(
                f"/api/automation/v1.0/datasets/{uid}/schedules/", json={"cron_schedule": "0 * * * *"}
            )
            assert created.status_code == 201, created.text
        engine = create_engine(url)
        pass_command = {
            "op": "schedule_pass",
            "home": str(settings.home),
            "settings": {"database_url": url, "secret_key": SHARED_SECRET_KEY},
        }
        try:
            with Racers(2) as racers:
                # Nothing due yet: both open their database, so that the passes below start together.
                assert racers.race(pass_command) == [{"ok": []}] * 2
                for trial in range(5):
                    with engine.begin() as connection:  # due again, and the dataset at rest
                        connection.execute(
                            update(DatasetSchedule).values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC))
                        )
                        connection.execute(update(Dataset).values(status="idle", run_uid=None))
                    answers = racers.race(pass_command)
                    assert all("ok" in answer for answer in answers), answers
                    queued = [run for answer in answers for run in answer["ok"]]
                    assert len(queued) == 1, f"trial {trial}: {answers}"
                    assert queued[0][0] == uid
                    with engine.connect() as connection:
                        status, run_uid = connection.execute(
                            select(Dataset.status, Dataset.run_uid).where(Dataset.uid == uid)
                        ).one()
                    assert (status, run_uid) == ("queued", queued[0][1])
                    assert racers.race(pass_command)[0] == {"ok": []}
        finally:
            engine.dispose()


def test_a_shared_database_needs_the_secret_key(tmp_path: Path) -> None:
    """On PostgreSQL without DATAWHARF_SECRET_KEY, a command stops before it touches the database, with
    the setting named and the way to make a key (no server needed: nothing is contacted)."""
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # port 9: would refuse, were it asked
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "datawharf", "apikeys", "list"],
        env={**env, "DATAWHARF_HOME": str(tmp_path), "DATAWHARF_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[secret_key_required]" in result.stderr
    assert "DATAWHARF_SECRET_KEY" in result.stderr and "Fernet.generate_key()" in result.stderr
    assert not (tmp_path / "secret.key").exists()
