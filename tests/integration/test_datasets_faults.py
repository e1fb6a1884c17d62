"""Faults during a publish: each ends with a clear status and message, and the previous version served.

The runs here are driven directly (``PublishRun``) with the production locator wrapped so that the
fault happens at a chosen moment (the object replaced after the HEAD or after the first read, the S3
server killed mid-run, an abort requested mid-run); everything else is real: moto over HTTP, the
metadata DB, the warehouse on disk.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.datasets import control, locate
from datawharf.datasets import publish as publish_module
from datawharf.datasets.locate import LocatedObject, Locator, stream_locator
from datawharf.datasets.publish import PublishRun
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.warehouse import STAGING_PREFIX
from tests.integration.test_datasets_publish import API, create_connection, create_dataset, publish
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket, start_moto_server


def csv_body(rows: int, tag: str = "a") -> bytes:
    lines = ["id,name,value"] + [f"{i},{tag}-{i:07d},{i * 0.5}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


SMALL = csv_body(10)
BIG = csv_body(150_000)  # ~3.7 MB: 15 chunks of 256 KiB


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small ranged GETs so that a run is still reading when the fault strikes.
    monkeypatch.setattr(locate, "STREAM_CHUNK", 256 * 1024)
    monkeypatch.setattr(locate, "STREAM_CONCURRENCY", 2)
    monkeypatch.setattr(publish_module, "PROGRESS_SECONDS", 0.05)


class Hooked:
    """A stream that calls ``hook`` once, after its first read."""

    def __init__(self, raw: Any, hook: Callable[[], None]) -> None:
        self.raw, self.hook, self.fired = raw, hook, False

    def _after(self) -> None:
        if not self.fired:
            self.fired = True
            self.hook()

    def read(self, size: int | None = -1) -> bytes:
        data = self.raw.read(size)
        self._after()
        return data

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        self._after()
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def hooked(
    base: Locator, *, on_open: Callable[[], None] | None = None, on_read: Callable[[], None] | None = None
) -> Locator:
    def locate(resource: Any) -> LocatedObject:
        located = base(resource)
        original = located.open

        def open_stream() -> Any:
            if on_open is not None:
                on_open()
            stream = original()
            return Hooked(stream, on_read) if on_read is not None else stream

        located.open = open_stream
        return located

    return locate


def run_publish(settings: Settings, database: Database, uid: str, locator: Locator) -> str:
    with database.session() as session:
        run_uid = control.request_publish(session, uid).run_uid
    assert run_uid is not None
    return PublishRun(database, settings, uid, run_uid, locator).execute()


def fixture_settings(tmp_path: Path, server: MotoServer, **extra: Any) -> Settings:
    # No scheduler passes during the test: the runs are driven here.
    return make_settings(
        tmp_path / "home", allowed_private_hosts=[server.host_port], scheduler_interval=3600, **extra
    )


@pytest.fixture
def env(tmp_path: Path, moto_server: MotoServer) -> Iterator[tuple[Settings, TestClient, Database]]:
    settings = fixture_settings(tmp_path, moto_server)
    with make_app_client(settings) as client:
        database = Database(settings)
        try:
            yield settings, client, database
        finally:
            database.dispose()


def published_first(client: TestClient, bucket: S3Bucket, key: str) -> tuple[str, str]:
    """A dataset whose first version (10 records) is published; then the object becomes BIG."""
    bucket.put(key, SMALL)
    uid = create_dataset(
        client,
        key,
        bucket.url(key),
        params={"separator": ","},
        connection={"uid": create_connection(client, bucket.server)},
    )
    first = publish(client, uid)
    assert first["status"] == "idle", first["message"]
    bucket.put(key, BIG)
    return uid, first["version_uid"]


def assert_previous_served(
    settings: Settings, client: TestClient, uid: str, version_uid: str
) -> dict[str, Any]:
    status = client.get(f"{API}/datasets/{uid}/status/").json()
    assert status["is_published"] is True
    assert status["version_uid"] == version_uid
    assert client.get(f"{API}/datasets/{uid}/versions/").json()["total_count"] == 1
    folder = settings.warehouse_dir / uid
    assert sorted(p.name for p in folder.iterdir()) == [version_uid]  # no staging folder left
    files = [str(p) for p in (folder / version_uid).glob("*.parquet")]
    assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone() == (10,)
    return status


def test_object_replaced_between_head_and_read(env: Any, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "replaced-early.csv")
    base = stream_locator(database.session, settings)
    locator = hooked(base, on_open=lambda: s3_bucket.put("replaced-early.csv", csv_body(150_000, "b")))
    assert run_publish(settings, database, uid, locator) == "error"
    status = assert_previous_served(settings, client, uid, first)
    assert status["status"] == "error"
    assert "[object_changed]" in status["message"]
    assert "replaced-early.csv" in status["message"]


def test_object_replaced_during_the_run(env: Any, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "replaced-late.csv")
    base = stream_locator(database.session, settings)
    locator = hooked(base, on_read=lambda: s3_bucket.put("replaced-late.csv", csv_body(150_000, "c")))
    assert run_publish(settings, database, uid, locator) == "error"
    status = assert_previous_served(settings, client, uid, first)
    assert "[object_changed]" in status["message"]


def test_abort_mid_run(env: Any, s3_bucket: S3Bucket) -> None:
    settings, client, database = env
    uid, first = published_first(client, s3_bucket, "aborted.csv")

    def abort() -> None:
        response = client.post(f"{API}/datasets/{uid}/abort/")
        assert response.status_code == 200, response.text
        assert client.get(f"{API}/datasets/{uid}/status/").json()["status"] == "aborting_processing"

    locator = hooked(stream_locator(database.session, settings), on_read=abort)
    assert run_publish(settings, database, uid, locator) == "idle"
    status = assert_previous_served(settings, client, uid, first)
    assert status["status"] == "idle"
    assert status["message"].startswith("Publish aborted")


def test_warehouse_full(tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket) -> None:
    # Incompressible values, so the second version cannot fit under the cap.
    settings = fixture_settings(tmp_path, moto_server, warehouse_max_bytes=400_000)
    noisy = ("id,blob\n" + "".join(f"{i},{os.urandom(24).hex()}\n" for i in range(40_000))).encode()
    with make_app_client(settings) as client:
        uid, first = published_first(client, s3_bucket, "full.csv")
        s3_bucket.put("full.csv", noisy)
        status = publish(client, uid)
        assert status["status"] == "error"
        assert "[warehouse_full]" in status["message"]
        assert "DATAWHARF_WAREHOUSE_MAX_BYTES" in status["message"]
        assert_previous_served(settings, client, uid, first)


def test_s3_server_killed_mid_run(tmp_path: Path) -> None:
    server = start_moto_server(tmp_path)
    try:
        settings = fixture_settings(
            tmp_path, server, s3_max_attempts=2, s3_connect_timeout=2, s3_read_timeout=5
        )
        bucket = S3Bucket(server, server.create_bucket())
        with make_app_client(settings) as client:
            uid, first = published_first(client, bucket, "killed.csv")
            database = Database(settings)
            try:

                def kill() -> None:
                    os.killpg(server.process.pid, signal.SIGKILL)
                    server.process.wait(timeout=10)

                locator = hooked(stream_locator(database.session, settings), on_read=kill)
                assert run_publish(settings, database, uid, locator) == "error"
            finally:
                database.dispose()
            status = assert_previous_served(settings, client, uid, first)
            assert status["status"] == "error"
            assert "[endpoint_unreachable]" in status["message"]
            assert server.endpoint_url in status["message"]
    finally:
        server.stop()


def test_restart_marks_interrupted_run_failed(tmp_path: Path, moto_server: MotoServer) -> None:
    from sqlalchemy import update

    from datawharf.store.models.datasets import Dataset

    settings = fixture_settings(tmp_path, moto_server)
    with make_app_client(settings) as client:
        uid = client.post(
            f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "x"}}}}
        ).json()["uid"]
    staging = settings.warehouse_dir / uid / f"{STAGING_PREFIX}ch_dead"
    staging.mkdir(parents=True)
    database = Database(settings)
    try:
        with database.session() as session:
            # As a process killed mid-run leaves it: processing, its worker gone.
            session.execute(
                update(Dataset)
                .where(Dataset.uid == uid)
                .values(status="processing", run_uid="ru_dead", run_worker=f"{os.uname().nodename}:999999999")
            )
    finally:
        database.dispose()
    with make_app_client(settings) as client:
        status = client.get(f"{API}/datasets/{uid}/status/").json()
    assert status["status"] == "error"
    assert "interrupted" in status["message"]
    assert not staging.exists()
