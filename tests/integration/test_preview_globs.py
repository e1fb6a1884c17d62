"""The preview of a large prefix or glob: one listing page, 20 records, a sampled schema, under 1 MiB."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"
MiB = 1024 * 1024
# 10,000, not 100,000: moto takes ~85 PUTs a second on the shared test machine (100,000 would take 20
# minutes). The preview lists one page of 1,000 whatever the size, so the figure it proves is the same.
OBJECTS = 10_000
RECORDS_EACH = 2
EXTRA_AT, TEXT_AT = 500, 250  # sampled positions of the first page: first, 250, 500, 749, last
KEY = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def key_of(number: int) -> str:
    return f"big/{number // 1000:02d}/part-{number:05d}.csv.gz"


def body_of(number: int) -> bytes:
    header, rows = "station,count", [f"s{number}-{row},{number + row}" for row in range(RECORDS_EACH)]
    if number == EXTRA_AT:
        header, rows = header + ",note", [row + ",extra" for row in rows]
    if number == TEXT_AT:
        rows = [f"s{number}-{row},many" for row in range(RECORDS_EACH)]
    return gzip.compress(("\n".join([header, *rows]) + "\n").encode())


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer
) -> Iterator[tuple[TestClient, str, S3Bucket]]:
    bucket = S3Bucket(moto_server, moto_server.create_bucket())
    uploader = moto_server.boto3_client(pool=16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda n: uploader.put_object(Bucket=bucket.name, Key=key_of(n), Body=body_of(n)),
                range(OBJECTS),
            )
        )
    settings = make_settings(tmp_path_factory.mktemp("home"), allowed_private_hosts=[moto_server.host_port])
    with make_app_client(settings) as client:
        connection = client.post(
            f"{API}/datasource_connections/",
            json={
                "type": "amazon_s3",
                "title": "moto",
                "url": moto_server.endpoint_url,
                "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
            },
        )
        assert connection.status_code == 201, connection.text
        yield client, connection.json()["uid"], bucket


def preview(client: TestClient, connection: str, url: str) -> dict[str, Any]:
    dataset = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "Big"}}}})
    response = client.post(
        f"{API}/datasets/{dataset.json()['uid']}/resources/preview/",
        json={"datasource": {"type": "amazon_s3", "url": url, "connection": {"uid": connection}}},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_preview_of_a_large_prefix_reads_one_page_and_a_few_objects(
    env: tuple[TestClient, str, S3Bucket],
) -> None:
    client, connection, bucket = env
    body = preview(client, connection, bucket.url("big/"))
    objects = body["objects"]
    assert objects["listing_prefix"] == "big/"
    assert objects["matched_so_far"] == objects["listed_keys"] == 1000
    assert objects["more"] is True
    assert [o["key"] for o in objects["first_page"]] == [key_of(n) for n in range(1000)]
    assert body["extractor"] == "csvfile"
    # 20 records from the first 10 objects, in key order.
    assert len(body["records"]) == 20
    assert objects["records_from"] == [key_of(n) for n in range(10)]
    assert [r["station"] for r in body["records"][:3]] == ["s0-0", "s0-1", "s1-0"]
    # The schema merged across first, last and three between, with each one's differences.
    assert objects["sampled"] == [key_of(n) for n in (0, 250, 500, 749, 999)]
    assert objects["differences"] == [
        {"key": key_of(TEXT_AT), "missing": [], "extra": [], "types": {"count": ["int", "text"]}},
        {"key": key_of(EXTRA_AT), "missing": [], "extra": ["note"], "types": {}},
    ]
    merged = {f["name"]: f["type"] for f in objects["fields"]}
    assert merged == {"station": "text", "count": "text", "note": "text"}
    # Bounded bytes: object data fetched for the whole preview, out of 10,000 objects.
    assert 0 < body["bytes_fetched"] < MiB
    assert body["bytes_fetched"] == sum(o["size"] for o in objects["first_page"][:10]) + sum(
        objects["first_page"][n]["size"] for n in (250, 500, 749, 999)
    )


def test_the_preview_of_a_glob_matches_within_the_page(env: tuple[TestClient, str, S3Bucket]) -> None:
    client, connection, bucket = env
    body = preview(client, connection, bucket.url("big/") + "0[1-2]/part-*[05].csv.gz")
    objects = body["objects"]
    assert objects["listing_prefix"] == "big/0"
    # The first page (big/00/) matches nothing: the preview goes on to the first page that does.
    assert objects["listed_keys"] == 2000
    assert [o["key"] for o in objects["first_page"]] == [key_of(n) for n in range(1000, 2000, 5)]
    assert objects["matched_so_far"] == 200
    assert objects["first_page"][0]["key"] == key_of(1000)
    assert body["records"][0]["station"] == "s1000-0"
