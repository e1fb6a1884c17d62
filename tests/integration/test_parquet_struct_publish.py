"""A Parquet file with nested columns publishes (issue 16's bug: a ``struct<lon, lat>`` column ended the
publish in ``internal_error``, DuckDB-free but pyarrow's ``count_distinct`` has no kernel for a struct).

A ``struct<lon, lat>`` of numbers is what datawharf itself writes for a ``geo_point_2d``: it becomes one;
any other struct or list is kept as its JSON text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from datawharf.settings import Settings
from tests.integration.test_datasets_publish import create_connection, publish
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1/catalog/datasets"


@pytest.fixture
def client(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    settings: Settings = make_settings(
        tmp_path / "home", allowed_private_hosts=[moto_server.host_port], scheduler_interval=0.2
    )
    with make_app_client(settings) as client:
        yield client


def _nested_parquet() -> bytes:
    rows = 1000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "location": pa.array(
                [
                    None if i % 10 == 3 else {"lon": 2.0 + i / 1000, "lat": 48.0 + i / 1000}
                    for i in range(rows)
                ],
                pa.struct([("lon", pa.float64()), ("lat", pa.float64())]),
            ),
            "owner": pa.array(
                [{"name": f"n{i % 3}", "rank": i % 3} for i in range(rows)],
                pa.struct([("name", pa.string()), ("rank", pa.int32())]),
            ),
            "tags": pa.array([["a", "b"] if i % 2 else [] for i in range(rows)], pa.list_(pa.string())),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def test_a_parquet_file_with_struct_and_list_columns_publishes(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("nested/points.parquet", _nested_parquet())
    connection = {"uid": create_connection(client, s3_bucket.server)}
    created = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "Points"}}}})
    assert created.status_code == 201, created.text
    uid, dataset_id = created.json()["uid"], created.json()["dataset_id"]
    datasource = {
        "type": "amazon_s3",
        "url": s3_bucket.url("nested/points.parquet"),
        "connection": connection,
    }
    guessed = client.post(f"{API}/datasets/{uid}/resources/preview/", json={"datasource": datasource})
    assert guessed.status_code == 200, guessed.text
    assert guessed.json()["type"] == "parquet"
    resource = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "type": "parquet",
            "title": "points",
            "params": guessed.json()["params"],
            "datasource": datasource,
        },
    )
    assert resource.status_code == 201, resource.text

    status = publish(client, uid)
    assert status["status"] == "idle", status
    assert status["progress"]["records_done"] == 1000

    fields = {f["name"]: f["type"] for f in client.get(f"{EXPLORE}/{dataset_id}/").json()["fields"]}
    assert fields == {"id": "int", "location": "geo_point_2d", "owner": "text", "tags": "text"}
    records = client.get(f"{EXPLORE}/{dataset_id}/records", params={"order_by": "id", "limit": 4}).json()
    assert records["total_count"] == 1000
    first, _, _, fourth = records["results"]
    assert first["location"] == {"lon": 2.0, "lat": 48.0}
    assert fourth["location"] is None
    assert first["owner"] == '{"name": "n0", "rank": 0}'
    assert first["tags"] == "[]" and records["results"][1]["tags"] == '["a", "b"]'
    near = client.get(
        f"{EXPLORE}/{dataset_id}/records",
        params={"where": "within_distance(location, geom'POINT(2.5 48.5)', 1km)", "limit": 0},
    ).json()
    assert near["total_count"] > 0
