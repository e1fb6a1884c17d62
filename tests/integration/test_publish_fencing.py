"""Exactly one effect per run, through the real publish path (issue 14, item 2).

Two ``PublishRun`` objects work on one run: attempt 1 is superseded mid-run (its worker taken for dead
by the recovery, the run retried as attempt 2, which publishes); when attempt 1 goes on, as a paused
worker that wakes up does, every write it tries is refused by the fence: it ends ``stale``, leaves no
file and no version, and the dataset shows attempt 2's version. A worker stopping gracefully hands its
run back instead of aborting it. On SQLite and on the real PostgreSQL; moto over HTTP for S3.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.datasets import control
from datawharf.datasets.fieldconfig import FieldSpec
from datawharf.datasets.locate import stream_locator
from datawharf.datasets.publish import PublishRun
from datawharf.jobs import runs
from datawharf.jobs.runner import JobContext
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.runs import Run
from tests.integration.test_datasets_faults import (
    fixture_settings,
    hooked,
    published_first,
    small_chunks,
)
from tests.integration.test_datasets_publish import API, wait_status
from tests.support.app import make_app_client
from tests.support.moto import MotoServer, S3Bucket

__all__ = ["small_chunks"]  # the faults' small S3 chunks and fast beats apply here too

Env = tuple[Settings, TestClient, Database]


@pytest.fixture
def env(tmp_path: Path, moto_server: MotoServer, database_url: str) -> Iterator[Env]:
    settings = fixture_settings(tmp_path, moto_server, database_url=database_url)
    with make_app_client(settings) as client:
        database = Database(settings)
        try:
            yield settings, client, database
        finally:
            database.dispose()


def request(database: Database, uid: str) -> str:
    with database.session() as session:
        run_uid = control.request_publish(session, uid, max_attempts=2).run_uid
    assert run_uid is not None
    return run_uid


def supersede(settings: Settings, database: Database, uid: str, run_uid: str) -> str:
    """What a recovery does when attempt 1's worker looks dead (killed, or paused past the stale limit):
    the run is queued again; then attempt 2 runs it to the end here. Returns attempt 2's outcome."""
    deadline = time.monotonic() + 10
    retried: list[tuple[str, str, str]] = []
    while not retried and time.monotonic() < deadline:
        # On PostgreSQL a row that attempt 1's beat holds locked at this instant is skipped (SKIP LOCKED:
        # the run is beating right then); the next pass takes it, as the scheduler's would.
        with database.session(write_lock=True) as session:
            retried = control.recover_runs(session, settings.job_stale_seconds, lambda _worker: True)
    assert retried == [("publish", uid, run_uid)]
    return PublishRun(database, settings, uid, run_uid, stream_locator(database.session, settings)).execute()


def run_row(database: Database, run_uid: str) -> tuple[str, int]:
    with database.session() as session:
        run = session.get(Run, run_uid)
        assert run is not None
        return run.status, run.attempt


def assert_one_new_version(settings: Settings, client: TestClient, uid: str, first: str) -> None:
    """The dataset serves one new version (attempt 2's), all of BIG; nothing else is in the warehouse."""
    status = client.get(f"{API}/datasets/{uid}/status/").json()
    assert status["status"] == "idle", status["message"]
    new = status["version_uid"]
    assert new not in (None, first)
    versions = client.get(f"{API}/datasets/{uid}/versions/").json()
    assert versions["total_count"] == 2
    folder = settings.warehouse_dir / uid
    assert sorted(p.name for p in folder.iterdir()) == sorted([first, new])  # attempt 1 left nothing
    files = [str(p) for p in (folder / new).glob("*.parquet")]
    assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone() == (150_000,)


def test_superseded_mid_read_writes_nothing(env: Env, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "fenced-read.csv")
    run_uid = request(database, uid)
    outcomes: list[str] = []
    locator = hooked(
        stream_locator(database.session, settings),
        on_read=lambda: outcomes.append(supersede(settings, database, uid, run_uid)),
    )
    stale = PublishRun(database, settings, uid, run_uid, locator)
    assert stale.execute() == "stale"
    assert outcomes == ["idle"]
    assert run_row(database, run_uid) == ("done", 2)
    assert_one_new_version(settings, client, uid, first)


class SupersededAtTheSwitch(PublishRun):
    """Attempt 1 superseded after it wrote all its Parquet, just before its version switch."""

    def __init__(self, *args: Any, on_save: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_save = on_save

    def _save(self, data_uid: str, fields: list[FieldSpec], *args: Any) -> str:
        self.on_save()
        return super()._save(data_uid, fields, *args)


def test_superseded_before_the_version_switch_writes_nothing(env: Env, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "fenced-switch.csv")
    run_uid = request(database, uid)
    outcomes: list[str] = []
    stale = SupersededAtTheSwitch(
        database,
        settings,
        uid,
        run_uid,
        stream_locator(database.session, settings),
        on_save=lambda: outcomes.append(supersede(settings, database, uid, run_uid)),
    )
    assert stale.execute() == "stale"
    assert outcomes == ["idle"]
    assert run_row(database, run_uid) == ("done", 2)
    assert_one_new_version(settings, client, uid, first)


def test_a_stopping_worker_hands_the_run_back(env: Env, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "handed-back.csv")
    run_uid = request(database, uid)
    context = JobContext(run_uid)
    locator = hooked(stream_locator(database.session, settings), on_read=context.stopping.set)
    assert PublishRun(database, settings, uid, run_uid, locator, context).execute() == "queued"
    status = client.get(f"{API}/datasets/{uid}/status/").json()
    assert (status["status"], status["run_uid"], status["version_uid"]) == ("queued", run_uid, first)
    assert run_row(database, run_uid) == ("queued", 1)  # not failed, not aborted
    assert sorted(p.name for p in (settings.warehouse_dir / uid).iterdir()) == [first]
    # The next worker claims it as attempt 2 and publishes it.
    locator = stream_locator(database.session, settings)
    assert PublishRun(database, settings, uid, run_uid, locator).execute() == "idle"
    assert run_row(database, run_uid) == ("done", 2)
    assert_one_new_version(settings, client, uid, first)


def test_the_runtime_retries_a_dead_workers_run_then_fails_it(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    """A run whose worker died (a process of this host that no longer exists) is retried by the server's
    next pass while it has attempts left (DATAWHARF_JOB_MAX_ATTEMPTS=2), and publishes once; a run that
    used its attempts ends in error with the previous version served."""
    settings = fixture_settings(tmp_path, moto_server, job_max_attempts=2)
    dead = f"{socket.gethostname()}:999999999"
    with make_app_client(settings) as client:
        runtime = client.app.state.datasets_runtime  # type: ignore[attr-defined]
        database = runtime.database
        uid, first = published_first(client, s3_bucket, "retried.csv")
        for attempts_used, expected in ((1, "idle"), (2, "error")):
            run_uid = request(database, uid)
            with database.session() as session:  # claimed by a worker that then died
                for _ in range(attempts_used):
                    attempt = control.claim_run(session, uid, run_uid, dead)
                    assert attempt is not None
                    if attempt.attempt < attempts_used:
                        runs.hand_back(session, attempt)
                        session.get(Dataset, uid).status = "queued"  # type: ignore[union-attr]
            runtime.tick()
            status = wait_status(client, uid)
            assert status["status"] == expected, status["message"]
            assert run_row(database, run_uid) == (("done", 2) if expected == "idle" else ("failed", 2))
            if expected == "idle":
                retried_version = status["version_uid"]
                assert retried_version != first
        assert "interrupted" in status["message"]
        assert status["version_uid"] == retried_version  # the failed run changed nothing
        versions = client.get(f"{API}/datasets/{uid}/versions/").json()
        assert versions["total_count"] == 2  # the first, and the retried run's
