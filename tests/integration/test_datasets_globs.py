"""Many objects, one dataset: a prefix or glob datasource published from the moto S3 server."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.settings import Settings
from tests.integration.test_datasets_publish import (
    API,
    create_connection,
    create_dataset,
    parquet_files,
    publish,
)
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

PARAMS = {"separator": ",", "encoding": "utf-8", "headers_first_row": True, "extract_filename": True}
OBJECTS = 1000
RECORDS_EACH = 3


def station_csv(number: int, header: str = "station,day,count") -> bytes:
    rows = [
        f"st{number}-{row},2026-12-{(number % 28) + 1:02d},{number * 10 + row}" for row in range(RECORDS_EACH)
    ]
    return gzip.compress(("\n".join([header, *rows]) + "\n").encode())


def station_key(number: int) -> str:
    """Nested prefixes: exports/<year>/<month>/<day>/stations-<n>.csv.gz."""
    folder = f"exports/{2020 + number % 7}/{number % 12 + 1:02d}/{number % 28 + 1:02d}"
    return f"{folder}/stations-{number:04d}.csv.gz"


def upload(bucket: S3Bucket, objects: dict[str, bytes]) -> None:
    """Uploads in parallel (one shared, thread-safe boto3 client): 1,000 PUTs in seconds, not a minute."""
    client = bucket.server.boto3_client()
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(
            pool.map(
                lambda item: client.put_object(Bucket=bucket.name, Key=item[0], Body=item[1]), objects.items()
            )
        )


def settings_with(tmp_path: Path, server: MotoServer, **extra: object) -> Settings:
    return make_settings(tmp_path / "home", allowed_private_hosts=[server.host_port], **extra)


@pytest.fixture
def app_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return settings_with(tmp_path, moto_server)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def published(settings: Settings, uid: str, version_uid: str, sql: str) -> list[tuple[object, ...]]:
    files = parquet_files(settings, uid, version_uid)
    return duckdb.connect().execute(sql.replace("DATA", f"read_parquet({files!r})")).fetchall()


def test_a_glob_over_a_thousand_gzip_csvs_is_one_dataset(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    objects = {station_key(n): station_csv(n) for n in range(OBJECTS)}
    # Around them, what the glob must leave out: another name, another extension, another prefix.
    decoys = {
        "exports/2021/01/01/other-1.csv.gz": station_csv(9001),
        "exports/2021/01/01/stations-1.txt": b"not a csv",
        "archive/stations-0001.csv.gz": station_csv(9002),
    }
    upload(s3_bucket, {**objects, **decoys})
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(
        client,
        "Stations",
        s3_bucket.url("exports/") + "**/stations-*.csv.gz",
        params=PARAMS,
        connection=connection,
    )
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    assert status["progress"]["records_done"] == OBJECTS * RECORDS_EACH
    assert status["progress"]["bytes_done"] == sum(len(body) for body in objects.values())
    version = client.get(f"{API}/datasets/{uid}/versions/").json()["results"][0]
    assert version["records_count"] == OBJECTS * RECORDS_EACH
    assert version["sources"][0]["pattern"] == "exports/**/stations-*.csv.gz"
    assert version["sources"][0]["objects"] == OBJECTS
    rows = published(
        app_settings, uid, version["uid"], "SELECT filename, count(*), sum(count) FROM DATA GROUP BY filename"
    )
    assert {row[0]: row[1] for row in rows} == {key: RECORDS_EACH for key in objects}
    assert sum(int(row[2]) for row in rows) == sum(n * 10 * RECORDS_EACH + 3 for n in range(OBJECTS))
    one = published(
        app_settings,
        uid,
        version["uid"],
        f"SELECT station FROM DATA WHERE filename = '{station_key(42)}' ORDER BY 1",
    )
    assert one == [("st42-0",), ("st42-1",), ("st42-2",)]


def with_connection(client: TestClient, bucket: S3Bucket) -> dict[str, str]:
    return {"uid": create_connection(client, bucket.server)}


def mismatched_bucket(bucket: S3Bucket) -> str:
    """Five parts; the third has a field renamed and one more (reported by key)."""
    upload(
        bucket,
        {
            **{f"parts/part-{n}.csv.gz": station_csv(n) for n in (1, 2, 4, 5)},
            "parts/part-3.csv.gz": station_csv(3, header="station,date,count,extra"),
        },
    )
    return bucket.url("parts/")


def test_a_file_whose_fields_differ_fails_the_publish_by_default(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    uid = create_dataset(
        client,
        "Parts",
        mismatched_bucket(s3_bucket),
        params=PARAMS,
        connection=with_connection(client, s3_bucket),
    )
    status = publish(client, uid)
    assert status["status"] == "error"
    assert "[object_fields_differ]" in status["message"]
    assert "parts/part-3.csv.gz" in status["message"]
    assert "missing day; extra date, extra" in status["message"]
    assert status["is_published"] is False
    # The saved resource's preview shows the same difference before any publish is tried.
    resource = client.get(f"{API}/datasets/{uid}/resources/").json()["results"][0]["uid"]
    shown = client.get(f"{API}/datasets/{uid}/resources/{resource}/preview/")
    assert shown.status_code == 200, shown.text
    objects = shown.json()["objects"]
    assert objects["sampled"] == [f"parts/part-{n}.csv.gz" for n in range(1, 6)]
    assert objects["records_from"] == [f"parts/part-{n}.csv.gz" for n in (1, 2, 4, 5)]
    assert objects["differences"] == [
        {"key": "parts/part-3.csv.gz", "missing": ["day"], "extra": ["date", "extra"], "types": {}}
    ]
    assert len(shown.json()["records"]) == 4 * RECORDS_EACH


def test_a_file_whose_fields_differ_is_skipped_and_listed_when_set(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    settings = settings_with(tmp_path, moto_server, glob_mismatch="skip")
    with make_app_client(settings) as client:
        uid = create_dataset(
            client,
            "Parts",
            mismatched_bucket(s3_bucket),
            params=PARAMS,
            connection=with_connection(client, s3_bucket),
        )
        status = publish(client, uid)
        assert status["status"] == "idle", status["message"]
        assert status["progress"]["records_done"] == 4 * RECORDS_EACH
        assert "1 object(s) whose fields differ were skipped" in status["message"]
        [error] = status["records_errors"]
        assert error["value"] == "parts/part-3.csv.gz"
        assert "missing day; extra date, extra" in error["message"]
        version = client.get(f"{API}/datasets/{uid}/versions/").json()["results"][0]
        rows = published(settings, uid, version["uid"], "SELECT DISTINCT filename FROM DATA ORDER BY 1")
        assert rows == [(f"parts/part-{n}.csv.gz",) for n in (1, 2, 4, 5)]


def test_a_glob_that_matches_nothing_is_refused_by_name(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("data/a.csv", b"x\n1\n")
    connection = with_connection(client, s3_bucket)
    dataset = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "No"}}}})
    refused = client.post(
        f"{API}/datasets/{dataset.json()['uid']}/resources/",
        json={
            "type": "csvfile",
            "title": "No",
            "params": PARAMS,
            "datasource": {
                "type": "amazon_s3",
                "url": s3_bucket.url("data/") + "*.parquet",
                "connection": connection,
            },
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "no_matching_object"
    # Matched when saved, gone when published: the run says so by name.
    uid = create_dataset(
        client, "Gone", s3_bucket.url("data/") + "*.csv", params=PARAMS, connection=connection
    )
    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key="data/a.csv")
    status = publish(client, uid)
    assert status["status"] == "error"
    assert "[no_matching_object]" in status["message"]
