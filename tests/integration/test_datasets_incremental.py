"""Incremental refresh of a glob against the moto S3 server: a publish "only if changed" reads only the
new objects (the run's byte counter and moto's request log say so), a changed object rebuilds or fails
as DATAWHARF_INCREMENTAL_ON_CHANGE says, versions sharing parts stay restorable, and neither retention
nor the warehouse sweep removes a part a kept version reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.datasets import incremental
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.integration.test_datasets_globs import (
    PARAMS,
    RECORDS_EACH,
    mismatched_bucket,
    station_csv,
    station_key,
    upload,
    with_connection,
)
from tests.integration.test_datasets_publish import API, create_connection, create_dataset, publish
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

GLOB = "exports/**/stations-*.csv.gz"


def settings_with(tmp_path: Path, server: MotoServer, **extra: Any) -> Settings:
    return make_settings(
        tmp_path / "home", allowed_private_hosts=[server.host_port], scheduler_interval=3600, **extra
    )


@pytest.fixture
def app_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return settings_with(tmp_path, moto_server)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def stations(numbers: range) -> dict[str, bytes]:
    return {station_key(n): station_csv(n) for n in numbers}


def glob_dataset(client: TestClient, bucket: S3Bucket) -> str:
    connection = {"uid": create_connection(client, bucket.server)}
    return create_dataset(
        client, "Stations", bucket.url("exports/") + "**/stations-*.csv.gz", PARAMS, connection
    )


def current(client: TestClient, uid: str) -> dict[str, Any]:
    version_uid = client.get(f"{API}/datasets/{uid}/status/").json()["version_uid"]
    return client.get(f"{API}/datasets/{uid}/versions/{version_uid}/").json()


def rows(settings: Settings, uid: str, version: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    """``sql`` over the version's parts (its ``files``, some of them in older versions' folders)."""
    folder = settings.warehouse_dir / uid / version["uid"]
    if version["restored_from"]:
        folder = settings.warehouse_dir / uid / version["restored_from"]
    files = [str(folder / name) for name in version["files"]]
    return duckdb.connect().execute(sql.replace("DATA", f"read_parquet({files!r})")).fetchall()


def object_gets(server: MotoServer, bucket: S3Bucket, since: int) -> list[str]:
    """The keys moto served a GET of an object for (not a listing), from its request log's ``since``."""
    log = server.log_path.read_bytes()[since:].decode(errors="replace")
    return re.findall(rf"GET /{re.escape(bucket.name)}/([^ ?]+) HTTP", log)  # a listing has a '?'


def published(client: TestClient, uid: str, **params: Any) -> dict[str, Any]:
    status = publish(client, uid, **params)
    assert status["status"] == "idle", status["message"]
    return status


def test_a_second_publish_reads_only_the_ten_new_objects(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings, moto_server: MotoServer
) -> None:
    first = stations(range(1000))
    upload(s3_bucket, first)
    uid = glob_dataset(client, s3_bucket)
    status = published(client, uid)
    assert status["progress"]["records_done"] == 1000 * RECORDS_EACH
    v1 = current(client, uid)
    assert v1["records_count"] == 1000 * RECORDS_EACH
    assert v1["sources"][0]["objects"] == 1000
    counted = rows(app_settings, uid, v1, "SELECT filename, count(*) FROM DATA GROUP BY 1")
    assert dict(counted) == {key: RECORDS_EACH for key in first}

    added = stations(range(1000, 1010))
    upload(s3_bucket, added)
    log_size = moto_server.log_path.stat().st_size
    status = published(client, uid, only_if_changed="true")
    # Only the ten new objects were read: by the run's byte counter and by the S3 server's log.
    assert status["progress"]["bytes_done"] == sum(len(body) for body in added.values())
    assert status["progress"]["records_done"] == 10 * RECORDS_EACH
    assert sorted(set(object_gets(moto_server, s3_bucket, log_size))) == sorted(added)
    assert "appended to the 3000 of version" in status["message"]
    v2 = current(client, uid)
    assert v2["uid"] != v1["uid"]
    assert v2["records_count"] == 1010 * RECORDS_EACH
    assert v2["sources"][0]["objects"] == 1010
    assert v2["files"] == [f"../{v1['uid']}/part-00000.parquet", "part-00000.parquet"]  # shared, not copied
    counted = rows(app_settings, uid, v2, "SELECT filename, count(*) FROM DATA GROUP BY 1")
    assert dict(counted) == {key: RECORDS_EACH for key in {**first, **added}}
    assert rows(
        app_settings, uid, v2, f"SELECT station FROM DATA WHERE filename = '{station_key(1005)}'"
    ) == [(f"st1005-{row}",) for row in range(RECORDS_EACH)]
    # The Explore API serves the version made of both parts.
    explored = client.get(
        f"/api/explore/v2.1/catalog/datasets/{uid_id(client, uid)}/records", params={"limit": 0}
    )
    assert explored.json()["total_count"] == 1010 * RECORDS_EACH

    # Nothing new: no publish, no object read.
    log_size = moto_server.log_path.stat().st_size
    status = published(client, uid, only_if_changed="true")
    assert status["message"].startswith("No change")
    assert current(client, uid)["uid"] == v2["uid"]
    assert object_gets(moto_server, s3_bucket, log_size) == []


def test_a_changed_or_vanished_object_rebuilds_by_default(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    objects = stations(range(20))
    upload(s3_bucket, objects)
    uid = glob_dataset(client, s3_bucket)
    published(client, uid)
    s3_bucket.put(station_key(7), station_csv(700))  # same key, other content: another ETag
    upload(s3_bucket, stations(range(20, 22)))
    status = published(client, uid, only_if_changed="true")
    total = sum(len(body) for body in objects.values()) - len(objects[station_key(7)])
    total += len(station_csv(700)) + sum(len(b) for b in stations(range(20, 22)).values())
    assert status["progress"]["bytes_done"] == total  # everything read again
    rebuilt = current(client, uid)
    assert rebuilt["files"] == ["part-00000.parquet"]
    assert rebuilt["records_count"] == 22 * RECORDS_EACH
    assert rows(app_settings, uid, rebuilt, f"SELECT station FROM DATA WHERE filename = '{station_key(7)}'")[
        0
    ] == ("st700-0",)
    # A vanished object: rebuilt without it.
    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key=station_key(3))
    published(client, uid, only_if_changed="true")
    gone = current(client, uid)
    assert gone["records_count"] == 21 * RECORDS_EACH
    assert rows(
        app_settings, uid, gone, f"SELECT count(*) FROM DATA WHERE filename = '{station_key(3)}'"
    ) == [(0,)]


def test_a_changed_object_fails_the_publish_when_set(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    settings = settings_with(tmp_path, moto_server, incremental_on_change="fail")
    with make_app_client(settings) as client:
        upload(s3_bucket, stations(range(5)))
        uid = glob_dataset(client, s3_bucket)
        published(client, uid)
        before = current(client, uid)
        s3_bucket.put(station_key(2), station_csv(200))
        status = publish(client, uid, only_if_changed="true")
        assert status["status"] == "error"
        assert "[objects_changed_since_version]" in status["message"]
        assert f"{station_key(2)} (changed)" in status["message"]
        assert "DATAWHARF_INCREMENTAL_ON_CHANGE=rebuild" in status["message"]
        assert current(client, uid)["uid"] == before["uid"]  # still served
        # A publish without "only if changed" rebuilds it.
        published(client, uid)
        assert current(client, uid)["records_count"] == 5 * RECORDS_EACH
        assert current(client, uid)["files"] == ["part-00000.parquet"]


def test_shared_parts_survive_retention_sweep_and_restore(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket, database_url: str
) -> None:
    settings = settings_with(tmp_path, moto_server, versions_keep=1, database_url=database_url)
    with make_app_client(settings) as client:
        upload(s3_bucket, stations(range(10)))
        uid = glob_dataset(client, s3_bucket)
        published(client, uid)
        v1 = current(client, uid)
        upload(s3_bucket, stations(range(10, 12)))
        published(client, uid, only_if_changed="true")
        v2 = current(client, uid)
        upload(s3_bucket, stations(range(12, 13)))
        published(client, uid, only_if_changed="true")
        v3 = current(client, uid)
        assert v3["files"] == [
            f"../{v1['uid']}/part-00000.parquet",
            f"../{v2['uid']}/part-00000.parquet",
            "part-00000.parquet",
        ]
        # Only v3 is kept (versions_keep=1), but it reads v1's and v2's parts: their folders stay.
        listed = client.get(f"{API}/datasets/{uid}/versions/").json()["results"]
        assert [v["uid"] for v in listed] == [v3["uid"]]
        client.app.state.datasets_runtime.sweep_warehouse()
        folders = sorted(p.name for p in (settings.warehouse_dir / uid).iterdir())
        assert folders == sorted([v1["uid"], v2["uid"], v3["uid"]])
        assert rows(settings, uid, v3, "SELECT count(*) FROM DATA") == [(13 * RECORDS_EACH,)]

    # Keeping more: an older version sharing parts is restored, and an incremental publish follows it.
    settings = settings_with(tmp_path, moto_server, versions_keep=5, database_url=database_url)
    with make_app_client(settings) as client:
        upload(s3_bucket, stations(range(13, 14)))
        published(client, uid, only_if_changed="true")
        v4 = current(client, uid)
        assert v4["records_count"] == 14 * RECORDS_EACH
        restored = client.post(f"{API}/datasets/{uid}/versions/{v3['uid']}/restore/")
        assert restored.status_code == 200, restored.text
        back = current(client, uid)
        assert back["restored_from"] == v3["uid"]
        assert back["records_count"] == 13 * RECORDS_EACH
        explored = client.get(
            f"/api/explore/v2.1/catalog/datasets/{uid_id(client, uid)}/records", params={"limit": 0}
        )
        assert explored.json()["total_count"] == 13 * RECORDS_EACH
        # The restored version holds v3's objects: the next incremental publish reads only the 14th.
        status = published(client, uid, only_if_changed="true")
        assert status["progress"]["records_done"] == RECORDS_EACH
        assert current(client, uid)["records_count"] == 14 * RECORDS_EACH
        # A full rebuild, then retention down to one version: every unshared folder goes.
        s3_bucket.put(station_key(0), station_csv(500))
    settings = settings_with(tmp_path, moto_server, versions_keep=1, database_url=database_url)
    with make_app_client(settings) as client:
        published(client, uid, only_if_changed="true")
        last = current(client, uid)
        assert last["files"] == ["part-00000.parquet"]
        client.app.state.datasets_runtime.sweep_warehouse()
        assert sorted(p.name for p in (settings.warehouse_dir / uid).iterdir()) == [last["uid"]]


def uid_id(client: TestClient, uid: str) -> str:
    return str(client.get(f"{API}/datasets/{uid}/").json()["dataset_id"])


def test_shared_parts_on_the_s3_warehouse(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    """The same sharing with the warehouse on S3, where a path has no ``..``: the Explore API reads the
    parts through their normalised keys, and retention keeps the prefix a kept version reads."""
    from tests.integration.test_warehouse_s3 import warehouse_settings

    warehouse = moto_server.create_bucket()
    settings = warehouse_settings(tmp_path / "home", moto_server, warehouse, versions_keep=1)
    with make_app_client(settings) as client:
        upload(s3_bucket, stations(range(6)))
        uid = glob_dataset(client, s3_bucket)
        published(client, uid)
        v1 = current(client, uid)
        upload(s3_bucket, stations(range(6, 8)))
        status = published(client, uid, only_if_changed="true")
        assert status["progress"]["records_done"] == 2 * RECORDS_EACH
        v2 = current(client, uid)
        assert v2["files"] == [f"../{v1['uid']}/part-00000.parquet", "part-00000.parquet"]
        explored = client.get(
            f"/api/explore/v2.1/catalog/datasets/{uid_id(client, uid)}/records", params={"limit": 0}
        )
        assert explored.status_code == 200, explored.text
        assert explored.json()["total_count"] == 8 * RECORDS_EACH
        client.app.state.datasets_runtime.sweep_warehouse()
        listed = moto_server.boto3_client().list_objects_v2(Bucket=warehouse, Prefix=f"wh/{uid}/")
        folders = {item["Key"].split("/")[2] for item in listed.get("Contents", [])}
        assert folders == {v1["uid"], v2["uid"]}  # v1's row is gone (keep=1), its part is not


def held_objects(settings: Settings, version_uid: str) -> dict[str, tuple[int, str | None]]:
    """key -> (records, skipped reason) of the objects ``dataset_version_objects`` holds for a version."""
    database = open_database(settings)
    try:
        with database.session() as session:
            held = incremental.current_objects(session, version_uid)
    finally:
        database.dispose()
    return {o.key: (o.records, o.skipped) for by_key in held.values() for o in by_key.values()}


def test_a_skipped_object_is_known_until_it_changes(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket, database_url: str
) -> None:
    """DATAWHARF_GLOB_MISMATCH=skip: the skipped object is recorded (no record, its reason), so a refresh
    does not read it again while its ETag and size stay; changed, it is read again and appended."""
    settings = settings_with(tmp_path, moto_server, glob_mismatch="skip", database_url=database_url)
    with make_app_client(settings) as client:
        uid = create_dataset(
            client, "Parts", mismatched_bucket(s3_bucket), PARAMS, with_connection(client, s3_bucket)
        )
        status = published(client, uid)
        v1 = current(client, uid)
        assert v1["records_count"] == 4 * RECORDS_EACH
        [reason] = [skipped for _, skipped in held_objects(settings, v1["uid"]).values() if skipped]
        assert held_objects(settings, v1["uid"])["parts/part-3.csv.gz"] == (0, reason)
        assert "missing day; extra date, extra" in reason
        assert v1["sources"][0]["objects"] == 5  # every object of the set the version accounts for

        # Nothing new: no publish, and the skipped object is not read again.
        since = moto_server.log_path.stat().st_size
        status = published(client, uid, only_if_changed="true")
        assert status["message"].startswith("No change")
        assert object_gets(moto_server, s3_bucket, since) == []
        assert current(client, uid)["uid"] == v1["uid"]

        # A new object: only it is read; the skipped one stays held and listed in the errors.
        s3_bucket.put("parts/part-6.csv.gz", station_csv(6))
        since = moto_server.log_path.stat().st_size
        status = published(client, uid, only_if_changed="true")
        assert object_gets(moto_server, s3_bucket, since) == ["parts/part-6.csv.gz"]
        assert "1 object(s) whose fields differ were skipped" in status["message"]
        assert [(e["value"], e["message"]) for e in status["records_errors"]] == [
            ("parts/part-3.csv.gz", f"{reason} It was skipped.")
        ]
        v2 = current(client, uid)
        assert v2["records_count"] == 5 * RECORDS_EACH and len(v2["files"]) == 2
        assert held_objects(settings, v2["uid"])["parts/part-3.csv.gz"] == (0, reason)

        # The skipped object now has the set's fields: it alone is read, and appended (nothing of it
        # was in the version to replace, so no rebuild).
        s3_bucket.put("parts/part-3.csv.gz", station_csv(3))
        since = moto_server.log_path.stat().st_size
        status = published(client, uid, only_if_changed="true")
        assert object_gets(moto_server, s3_bucket, since) == ["parts/part-3.csv.gz"]
        assert status["progress"]["records_done"] == RECORDS_EACH
        assert status["records_errors"] == []
        assert "skipped" not in status["message"]
        v3 = current(client, uid)
        assert v3["records_count"] == 6 * RECORDS_EACH and len(v3["files"]) == 3
        assert held_objects(settings, v3["uid"])["parts/part-3.csv.gz"] == (RECORDS_EACH, None)
        counted = rows(settings, uid, v3, "SELECT filename, count(*) FROM DATA GROUP BY 1 ORDER BY 1")
        assert counted == [(f"parts/part-{n}.csv.gz", RECORDS_EACH) for n in range(1, 7)]
        assert published(client, uid, only_if_changed="true")["message"].startswith("No change")


def test_skipped_objects_rebuild_once_the_mismatch_setting_is_fail(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    """A version made with skipped objects is not "unchanged" under DATAWHARF_GLOB_MISMATCH=fail: the
    refresh rebuilds, and fails on the object as a full publish does; the version stays served."""
    url = mismatched_bucket(s3_bucket)
    with make_app_client(settings_with(tmp_path, moto_server, glob_mismatch="skip")) as client:
        uid = create_dataset(client, "Parts", url, PARAMS, with_connection(client, s3_bucket))
        published(client, uid)
        before = current(client, uid)
    with make_app_client(settings_with(tmp_path, moto_server, glob_mismatch="fail")) as client:
        status = publish(client, uid, only_if_changed="true")
        assert status["status"] == "error"
        assert "[object_fields_differ]" in status["message"]
        assert "parts/part-3.csv.gz" in status["message"]
        assert current(client, uid)["uid"] == before["uid"]
