"""Publishing through the API from the moto S3 server, read back with DuckDB from the Parquet files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.settings import Settings
from tests.support.app import make_app_client, make_settings
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
