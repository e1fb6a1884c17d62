"""Publishing through the API from the moto S3 server, read back with DuckDB from the Parquet files."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from datawharf.extract.types import convert_column
from datawharf.settings import Settings
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"

CSV = (
    "Code postal;Commune;Population;Surface (km²);Date de mise à jour;Position\n"
    "01000;Bourg-en-Bresse;41365;23,86;2024-01-15;46.2052,5.2255\n"
    "75001;Paris 1er;15917;1,83;2024-02-01;48.8626,2.3363\n"
    "13001;Marseille 1er;40919;1,8;2024-02-03;43.2999,5.3841\n"
    "69001;Lyon 1er;29178;;2024-03-10;45.7676,4.8344\n"
).encode()


@pytest.fixture
def app_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return make_settings(
        tmp_path / "home", allowed_private_hosts=[moto_server.host_port], scheduler_interval=0.2
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def create_connection(client: TestClient, server: MotoServer) -> str:
    response = client.post(
        f"{API}/datasource_connections/",
        json={
            "type": "amazon_s3",
            "title": "moto",
            "url": server.endpoint_url,
            "auth": {
                "type": "aws_signature_v4",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "region": "us-east-1",
            },
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["uid"]


def create_dataset(
    client: TestClient,
    title: str,
    url: str,
    params: dict[str, Any] | None = None,
    connection: dict[str, Any] | None = None,
) -> str:
    response = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": title}}}})
    assert response.status_code == 201, response.text
    uid = response.json()["uid"]
    resource = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "type": "csvfile",
            "title": title,
            "params": params or {"separator": ";", "encoding": "utf-8", "headers_first_row": True},
            "datasource": {"type": "amazon_s3", "url": url, "connection": connection},
        },
    )
    assert resource.status_code == 201, resource.text
    return uid


def wait_status(client: TestClient, uid: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"{API}/datasets/{uid}/status/").json()
        if status["status"] in ("idle", "error"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"still {status['status']} after {timeout}s")


def publish(client: TestClient, uid: str, **params: Any) -> dict[str, Any]:
    response = client.post(f"{API}/datasets/{uid}/publish/", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"detail": "ok"}
    return wait_status(client, uid)


def _backoffice(client: TestClient, path: str) -> str:
    """The page as a signed-in user sees it (a second client on the same app: cookies of its own)."""
    with TestClient(client.app) as browser:
        form = browser.get("/backoffice/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed = browser.post(
            "/backoffice/sign-in",
            data={"api_key": BOOTSTRAP_KEY, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        page = browser.get(path)
        assert page.status_code == 200, page.text
        return page.text


def parquet_files(settings: Settings, uid: str, version_uid: str) -> list[str]:
    folder = settings.warehouse_dir / uid / version_uid
    return sorted(str(p) for p in folder.glob("*.parquet"))


def test_publish_csv_from_s3_and_read_with_duckdb(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    etag = s3_bucket.put("communes/communes.csv", CSV)
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(
        client, "Communes de France", s3_bucket.url("communes/communes.csv"), connection=connection
    )
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    assert status["is_published"] is True
    assert status["progress"]["records_done"] == 4
    assert status["progress"]["bytes_done"] == status["progress"]["bytes_total"] == len(CSV)
    assert status["records_errors"] == []
    versions = client.get(f"{API}/datasets/{uid}/versions/").json()
    assert versions["total_count"] == 1
    version = versions["results"][0]
    assert version["uid"] == status["version_uid"]
    assert version["records_count"] == 4
    assert version["sources"][0]["etag"] == etag
    assert version["sources"][0]["size"] == len(CSV)
    assert version["can_restore"] is False  # the current one

    files = parquet_files(app_settings, uid, version["uid"])
    assert len(files) == 1
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({files!r})").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types == {
        "code_postal": "VARCHAR",
        "commune": "VARCHAR",
        "population": "BIGINT",
        "surface_km2": "DOUBLE",
        "date_de_mise_a_jour": "DATE",
        "position": "STRUCT(lon DOUBLE, lat DOUBLE)",
    }
    rows = con.execute(
        f"SELECT code_postal, commune, population, surface_km2, CAST(date_de_mise_a_jour AS VARCHAR), "
        f"position.lat, position.lon FROM read_parquet({files!r}) ORDER BY code_postal"
    ).fetchall()
    assert rows[0] == ("01000", "Bourg-en-Bresse", 41365, 23.86, "2024-01-15", 46.2052, 5.2255)
    assert rows[2] == ("69001", "Lyon 1er", 29178, None, "2024-03-10", 45.7676, 4.8344)
    dataset = client.get(f"{API}/datasets/{uid}/").json()
    assert dataset["is_published"] is True
    assert dataset["metadata"]["default"]["modified"]["value"] is not None


def test_field_configuration_type_errors_and_versions(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    s3_bucket.put("a.csv", CSV)
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(client, "Configured", s3_bucket.url("a.csv"), connection=connection)
    first = publish(client, uid)
    assert first["status"] == "idle", first["message"]
    configs = [
        {"type": "rename", "label": "r", "from_name": "commune", "to_name": "name", "field_label": "Nom"},
        {"type": "type", "label": "t", "field": "code_postal", "type_param": "int"},
        {"type": "delete", "label": "d", "field": "position"},
        {"type": "description", "label": "d", "field": "population", "description": "Inhabitants"},
        {"type": "annotate", "label": "u", "field": "surface_km2", "annotation": "unit", "args": ["km2"]},
        {"type": "order", "label": "o", "args": ["name", "population"]},
    ]
    for config in configs:
        assert client.post(f"{API}/datasets/{uid}/fields/", json=config).status_code == 201
    second = publish(client, uid)
    assert second["status"] == "idle", second["message"]
    # Whether "01000" typed as int converts is the extraction rules' call (extract/types.py): follow them.
    leading_zero_fails = convert_column(pa.array(["01000"]), "int")[1][0].as_py()
    assert second["progress"]["records_errors_count"] == (1 if leading_zero_fails else 0)
    versions = client.get(f"{API}/datasets/{uid}/versions/").json()["results"]
    assert len(versions) == 2
    assert versions[0]["uid"] == second["version_uid"]
    files = parquet_files(app_settings, uid, second["version_uid"])
    con = duckdb.connect()
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({files!r})").fetchall()]
    assert names == ["name", "population", "code_postal", "surface_km2", "date_de_mise_a_jour"]
    assert con.execute(f"SELECT sum(code_postal) FROM read_parquet({files!r})").fetchone() == (
        (0 if leading_zero_fails else 1000) + 75001 + 13001 + 69001,
    )

    # Values that do not convert become null plus a per-record error.
    client.post(
        f"{API}/datasets/{uid}/fields/",
        json={"type": "type", "label": "t", "field": "name", "type_param": "int"},
    )
    third = publish(client, uid)
    assert third["status"] == "idle"
    expected_errors = 4 + (1 if leading_zero_fails else 0)  # the 4 names (+ the "01000" code)
    assert third["progress"]["records_errors_count"] == expected_errors
    assert f"{expected_errors} value(s) did not convert" in third["message"]
    first_error = third["records_errors"][0]
    assert first_error["field_uid"] == "name"
    assert first_error["record_id"].endswith(":1")
    assert "'Bourg-en-Bresse'" in first_error["message"]
    assert first_error["value"] == "Bourg-en-Bresse"  # ours: the value itself, for the backoffice's list
    files = parquet_files(app_settings, uid, third["version_uid"])
    assert con.execute(f"SELECT count(*), count(name) FROM read_parquet({files!r})").fetchone() == (4, 0)

    # Restore the first version: a new version pointing at the first one's files.
    restored = client.post(f"{API}/datasets/{uid}/versions/{first['version_uid']}/restore/")
    assert restored.status_code == 200, restored.text
    status = client.get(f"{API}/datasets/{uid}/status/").json()
    listing = client.get(f"{API}/datasets/{uid}/versions/").json()
    assert listing["total_count"] == 4
    current = listing["results"][0]
    assert current["uid"] == status["version_uid"]
    assert current["restored_from"] == first["version_uid"]
    assert current["records_count"] == 4
    # The status describes the version now served, not the third run (its message, its errors).
    assert status["status"] == "idle"
    restored_message = f"Restored version {first['version_uid']} as version {current['uid']}"
    assert status["message"].startswith(restored_message)
    assert "did not convert" not in status["message"]
    assert status["records_errors"] == [] and status["progress"]["records_errors_count"] == 0
    page = _backoffice(client, f"/backoffice/datasets/{uid}")
    assert "could not be converted" not in page and f"Restored version {first['version_uid']}" in page
    files = parquet_files(app_settings, uid, first["version_uid"])
    assert "position" in [
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({files!r})").fetchall()
    ]

    # Unpublish takes it off the read side; the dataset_id is free to change only then.
    frozen = client.put(f"{API}/datasets/{uid}/", json={"dataset_id": "other-id", "metadata": {}})
    assert frozen.status_code == 400
    assert frozen.json()["error_code"] == "invalid_dataset_status"
    assert client.post(f"{API}/datasets/{uid}/unpublish/").status_code == 200
    assert client.get(f"{API}/datasets/{uid}/status/").json()["is_published"] is False
    assert (
        client.put(f"{API}/datasets/{uid}/", json={"dataset_id": "other-id", "metadata": {}}).status_code
        == 200
    )
    again = client.post(f"{API}/datasets/{uid}/unpublish/")
    assert again.json()["error_code"] == "invalid_dataset_status"
    # Delete removes the warehouse folder too.
    assert (app_settings.warehouse_dir / uid).is_dir()
    assert client.delete(f"{API}/datasets/{uid}/").status_code == 204
    assert not (app_settings.warehouse_dir / uid).exists()


def test_several_resources_union_by_name_and_refresh_if_changed(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    s3_bucket.put("one.csv", b"id,name,score\n1,alpha,1.5\n2,beta,2\n")
    s3_bucket.put("two.csv.gz", __import__("gzip").compress(b"name,id,extra\ngamma,3,x\ndelta,4,y\n"))
    # The second resource uses an inline connection (saved as a non-reusable one).
    inline = {
        "type": "amazon_s3",
        "url": s3_bucket.server.endpoint_url,
        "auth": {
            "type": "aws_signature_v4",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "inline-secret-value-1234567890",
            "region": "us-east-1",
        },
    }
    uid = create_dataset(
        client,
        "Union",
        s3_bucket.url("one.csv"),
        params={"separator": ","},
        connection={"uid": create_connection(client, s3_bucket.server)},
    )
    second = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "type": "csvfile",
            "title": "two",
            "params": {"separator": ","},
            "datasource": {"type": "amazon_s3", "url": s3_bucket.url("two.csv.gz"), "connection": inline},
        },
    )
    assert second.status_code == 201, second.text
    assert second.json()["datasource"]["connection"]["uid"].startswith("co_")
    assert "inline-secret" not in second.text
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    files = parquet_files(app_settings, uid, status["version_uid"])
    con = duckdb.connect()
    rows = con.execute(f"SELECT id, name, score, extra FROM read_parquet({files!r}) ORDER BY id").fetchall()
    assert rows == [
        (1, "alpha", 1.5, None),
        (2, "beta", 2.0, None),
        (3, "gamma", None, "x"),
        (4, "delta", None, "y"),
    ]

    unchanged = publish(client, uid, only_if_changed="true")
    assert unchanged["status"] == "idle"
    assert unchanged["message"].startswith("No change")
    assert unchanged["version_uid"] == status["version_uid"]
    assert client.get(f"{API}/datasets/{uid}/versions/").json()["total_count"] == 1

    s3_bucket.put("one.csv", b"id,name,score\n1,alpha,1.5\n2,beta,2\n5,epsilon,9\n")
    changed = publish(client, uid, only_if_changed="true")
    assert changed["status"] == "idle", changed["message"]
    assert changed["version_uid"] != status["version_uid"]
    files = parquet_files(app_settings, uid, changed["version_uid"])
    assert con.execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone() == (5,)


def test_scheduled_refresh_does_nothing_when_unchanged(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    from sqlalchemy import update

    from datawharf.store.db import Database
    from datawharf.store.models.datasets import DatasetSchedule

    s3_bucket.put("s.csv", b"a,b\n1,2\n")
    uid = create_dataset(
        client,
        "Sched",
        s3_bucket.url("s.csv"),
        params={"separator": ","},
        connection={"uid": create_connection(client, s3_bucket.server)},
    )
    schedule = client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "*/5 * * * *"}).json()
    database = Database(app_settings)
    try:

        def make_due() -> None:
            with database.session() as session:
                session.execute(update(DatasetSchedule).values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC)))

        make_due()
        first = wait_until(client, uid, lambda s: s["version_uid"] is not None and s["status"] == "idle")
        assert first["message"].startswith("Published version")
        make_due()
        second = wait_until(
            client, uid, lambda s: s["status"] == "idle" and s["message"].startswith("No change")
        )
        assert second["version_uid"] == first["version_uid"]
        after = client.get(f"{API}/datasets/{uid}/schedules/{schedule['uid']}/").json()
        assert after["last_run_at"] is not None
        assert after["next_run_at"] > after["last_run_at"]
    finally:
        database.dispose()


def wait_until(client: TestClient, uid: str, condition: Any, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"{API}/datasets/{uid}/status/").json()
        if condition(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"condition not met; last status {status}")


def test_saved_resource_preview_shows_the_field_configuration(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("p.csv", CSV)
    uid = create_dataset(
        client,
        "Preview",
        s3_bucket.url("p.csv"),
        connection={"uid": create_connection(client, s3_bucket.server)},
    )
    resource_uid = client.get(f"{API}/datasets/{uid}/resources/").json()["results"][0]["uid"]
    for config in (
        {"type": "rename", "label": "r", "from_name": "commune", "to_name": "name", "field_label": "Nom"},
        {"type": "delete", "label": "d", "field": "position"},
        {"type": "type", "label": "t", "field": "population", "type_param": "double"},
    ):
        assert client.post(f"{API}/datasets/{uid}/fields/", json=config).status_code == 201
    response = client.get(f"{API}/datasets/{uid}/resources/{resource_uid}/preview/")
    assert response.status_code == 200, response.text
    body = response.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert list(fields) == ["code_postal", "name", "population", "surface_km2", "date_de_mise_a_jour"]
    assert fields["name"]["label"] == "Nom"
    assert fields["population"]["type"] == "double"
    assert fields["code_postal"]["type"] == "text"
    assert len(body["records"]) == 4
    assert body["records"][0]["name"] == "Bourg-en-Bresse"
    assert body["records"][0]["population"] == 41365.0
    assert body["records"][0]["code_postal"] == "01000"
    assert body["bytes_read"] > 0
    guessed = client.get(f"{API}/datasets/{uid}/resources/{resource_uid}/guess_extractors_params/").json()
    assert guessed["extractor"] == "csvfile"
    assert guessed["params"]["separator"] == ";"
