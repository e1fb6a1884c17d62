"""A publish's objects spread over part runs (``datasets/parts.py``), on the in-process backend.

``DATAWHARF_SET_SPLIT_OBJECTS`` set explicitly spreads a set on the threads backend too, so the part
runs' slicing, results, failures and the incremental append are checked here against the suite's S3
server in seconds; ``test_distributed_parts.py`` checks the same spread over two ``datawharf worker``
processes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from datawharf.settings import Settings
from datawharf.store.models.runs import Run
from tests.integration.test_datasets_globs import (
    PARAMS,
    RECORDS_EACH,
    published,
    settings_with,
    station_csv,
    station_key,
    upload,
    with_connection,
)
from tests.integration.test_datasets_publish import API, create_dataset, publish
from tests.support.app import make_app_client
from tests.support.moto import MotoServer, S3Bucket

SPLIT = 25
OBJECTS = 120
GLOB = "**/stations-*.csv.gz"


@pytest.fixture
def split_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return settings_with(tmp_path, moto_server, set_split_objects=SPLIT, job_workers=3)


@pytest.fixture
def client(split_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(split_settings) as client:
        yield client


def part_runs(settings: Settings, dataset_uid: str) -> list[Run]:
    engine = create_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection:
            query = select(Run).where(Run.subject_uid == dataset_uid, Run.kind == "publish_part")
            return list(connection.execute(query.order_by(Run.uid)).all())
    finally:
        engine.dispose()


def glob_dataset(client: TestClient, bucket: S3Bucket, title: str) -> str:
    return create_dataset(
        client,
        title,
        bucket.url("exports/") + GLOB,
        params=PARAMS,
        connection=with_connection(client, bucket),
    )


def explore_count(client: TestClient, uid: str) -> int:
    """The records the Explore API serves of the dataset (its current version's files as one table)."""
    dataset_id = client.get(f"{API}/datasets/{uid}/").json()["dataset_id"]
    answer = client.get(f"/api/explore/v2.1/catalog/datasets/{dataset_id}/records", params={"limit": 0})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total_count"])


def test_a_set_spread_over_part_runs_publishes_every_object_once(
    client: TestClient, s3_bucket: S3Bucket, split_settings: Settings
) -> None:
    objects = {station_key(n): station_csv(n) for n in range(OBJECTS)}
    upload(s3_bucket, objects)
    uid = glob_dataset(client, s3_bucket, "Stations")
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    assert status["progress"]["records_done"] == OBJECTS * RECORDS_EACH
    assert status["progress"]["bytes_done"] == sum(len(body) for body in objects.values())
    # The first object is the coordinator's; the other 119 went to ceil(119 / 25) = 5 part runs.
    runs = part_runs(split_settings, uid)
    assert len(runs) == math.ceil((OBJECTS - 1) / SPLIT) == 5
    assert {run.status for run in runs} == {"done"}
    assert sorted(len(run.payload["objects"]) for run in runs) == [19, 25, 25, 25, 25]
    version = client.get(f"{API}/datasets/{uid}/versions/").json()["results"][0]
    assert version["records_count"] == OBJECTS * RECORDS_EACH
    assert version["sources"][0]["objects"] == OBJECTS
    # The coordinator's file first, then the parts in the set's key order (attempt 1 each).
    assert version["files"] == ["part-00000.parquet", *(f"part-{n:05d}-a1.parquet" for n in range(1, 6))]
    rows = published(
        split_settings,
        uid,
        version["uid"],
        "SELECT filename, count(*), sum(count) FROM DATA GROUP BY filename",
    )
    assert {row[0]: row[1] for row in rows} == {key: RECORDS_EACH for key in objects}
    assert sum(int(row[2]) for row in rows) == sum(n * 10 * RECORDS_EACH + 3 for n in range(OBJECTS))
    # Explore reads the version's six files as one table.
    assert explore_count(client, uid) == OBJECTS * RECORDS_EACH


def test_an_incremental_refresh_spreads_only_the_new_objects(
    client: TestClient, s3_bucket: S3Bucket, split_settings: Settings
) -> None:
    first = {station_key(n): station_csv(n) for n in range(60)}
    upload(s3_bucket, first)
    uid = glob_dataset(client, s3_bucket, "Daily")
    assert publish(client, uid)["status"] == "idle"
    added = {station_key(n): station_csv(n) for n in range(60, 120)}
    upload(s3_bucket, added)
    before = {run.uid for run in part_runs(split_settings, uid)}
    status = publish(client, uid, only_if_changed="true")
    assert status["status"] == "idle", status["message"]
    assert "appended" in status["message"]
    assert status["progress"]["bytes_done"] == sum(len(body) for body in added.values())
    new_parts = [run for run in part_runs(split_settings, uid) if run.uid not in before]
    assert sorted(len(run.payload["objects"]) for run in new_parts) == [9, 25, 25]  # 60 new: 1 + 59
    assert all(key in added for run in new_parts for key, _etag, _size in run.payload["objects"])
    version = client.get(f"{API}/datasets/{uid}/versions/").json()["results"][0]
    assert version["records_count"] == 120 * RECORDS_EACH
    assert explore_count(client, uid) == 120 * RECORDS_EACH


def test_a_part_that_fails_fails_the_publish_and_the_previous_version_stays_served(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    upload(s3_bucket, {station_key(n): station_csv(n) for n in range(60)})
    uid = glob_dataset(client, s3_bucket, "Parts")
    assert publish(client, uid)["status"] == "idle"
    served = explore_count(client, uid)
    bad = station_key(50)
    upload(s3_bucket, {bad: station_csv(50, header="station,date,count,extra")})
    status = publish(client, uid)
    assert status["status"] == "error"
    assert "[object_fields_differ]" in status["message"]  # the part's own code, not a generic one
    assert bad in status["message"]
    assert "in the part" in status["message"]
    assert explore_count(client, uid) == served == 60 * RECORDS_EACH


def test_a_part_skips_an_object_whose_fields_differ_when_set(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    settings = settings_with(tmp_path, moto_server, set_split_objects=SPLIT, glob_mismatch="skip")
    upload(s3_bucket, {station_key(n): station_csv(n) for n in range(60)})
    bad = station_key(50)
    upload(s3_bucket, {bad: station_csv(50, header="station,date,count,extra")})
    with make_app_client(settings) as client:
        uid = glob_dataset(client, s3_bucket, "Skip")
        status = publish(client, uid)
        assert status["status"] == "idle", status["message"]
        assert status["progress"]["records_done"] == 59 * RECORDS_EACH
        assert "1 object(s) whose fields differ were skipped" in status["message"]
        [error] = status["records_errors"]
        assert error["value"] == bad
