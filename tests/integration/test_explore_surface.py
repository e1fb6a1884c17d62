"""Explore API v2.1: the root's links, one record by its id (and the ids and links records carry with
include_links), a dataset's export formats and attachments, over a dataset published for real."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.support.app import AUTH
from tests.support.explore import (
    API,
    EXPLORE,
    ROWS,
    csv_bytes,
    expected_record,
    explore_client,
    publish_csv,
    wait_idle,
)
from tests.support.moto import MotoServer

BASE = f"http://testserver{EXPLORE}"


@dataclass(frozen=True)
class Published:
    client: TestClient
    dataset_id: str
    uid: str

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{EXPLORE}/catalog/datasets/{self.dataset_id}{path}", params=params)

    def ok(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Published]:
    with explore_client(tmp_path_factory.mktemp("explore-surface"), moto_server) as client:
        bucket = moto_server.create_bucket()
        dataset = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        yield Published(client, dataset["dataset_id"], dataset["uid"])


def all_ids(published: Published) -> list[str]:
    body = published.ok("/records", include_links="true", limit=100, order_by="id")
    return [r["_id"] for r in body["results"]]


def test_the_root_links_to_the_catalog(published: Published) -> None:
    response = published.client.get(f"{EXPLORE}/")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "links": [{"href": BASE, "rel": "self"}, {"href": f"{BASE}/catalog/datasets", "rel": "catalog"}]
    }


def test_the_catalog_links_to_its_endpoints(published: Published) -> None:
    """``GET catalog/``, which Opendatasoft's JavaScript client sends for ``fromCatalog().itself()``."""
    for path in (f"{EXPLORE}/catalog", f"{EXPLORE}/catalog/"):
        response = published.client.get(path)
        assert response.status_code == 200, response.text
        links = {link["rel"]: link["href"] for link in response.json()["links"]}
        catalog = f"{BASE}/catalog"
        assert links == {
            "self": catalog,
            "datasets": f"{catalog}/datasets",
            "facets": f"{catalog}/facets",
            "exports": f"{catalog}/exports",
        }


def test_records_carry_their_id_and_links_only_when_asked(published: Published) -> None:
    plain = published.ok("/records", limit=5)
    assert plain == {"total_count": len(ROWS), "results": [expected_record(r) for r in ROWS[:5]]}
    linked = published.ok("/records", limit=5, include_links="true")
    assert linked["total_count"] == len(ROWS)
    url = f"{BASE}/catalog/datasets/{published.dataset_id}"
    for record, row in zip(linked["results"], ROWS[:5], strict=True):
        record_id = record.pop("_id")
        assert re.fullmatch(r"[0-9a-f]{40}", record_id)
        assert record.pop("_links") == [
            {"href": f"{url}/records/{record_id}", "rel": "self"},
            {"href": url, "rel": "dataset"},
        ]
        assert record == expected_record(row)
    rels = {link["rel"]: link["href"] for link in linked["_links"]}
    assert set(rels) == {"self", "first", "next", "last"}
    assert "offset=5" in rels["next"] and "offset=25" in rels["last"] and "offset=0" in rels["first"]


def test_every_record_has_its_own_id_and_reads_back_by_it(published: Published) -> None:
    ids = all_ids(published)
    assert len(set(ids)) == len(ROWS)
    for record_id, row in list(zip(ids, ROWS, strict=True))[::7]:
        assert published.ok(f"/records/{record_id}") == expected_record(row)
    row = ROWS[3]
    paris = published.ok(f"/records/{ids[3]}", select="name, updated", timezone="Europe/Paris")
    assert paris == {
        "name": row.name,
        "updated": row.updated.astimezone(ZoneInfo("Europe/Paris")).isoformat(),
    }


def test_a_selected_subset_still_carries_the_id(published: Published) -> None:
    body = published.ok("/records", select="name", include_links="true", limit=2)
    assert [list(r) for r in body["results"]] == [["_id", "_links", "name"]] * 2
    grouped = published.ok("/records", select="city, count(*) as n", group_by="city", include_links="true")
    assert all(set(r) == {"city", "n"} for r in grouped["results"])


def test_ids_are_stable_across_a_republish_of_the_same_data(published: Published) -> None:
    before = all_ids(published)
    response = published.client.post(f"{API}/datasets/{published.uid}/publish/", headers=AUTH)
    assert response.status_code == 200, response.text
    assert wait_idle(published.client, published.uid)["status"] == "idle"
    assert all_ids(published) == before


@pytest.mark.parametrize("record_id", ["0" * 40, "not-an-id", "A" * 40, "'; drop table x; --"])
def test_an_unknown_record_is_record_not_found(published: Published, record_id: str) -> None:
    response = published.get(f"/records/{record_id}")
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error_code"] == "record_not_found"
    assert "include_links=true" in body["message"]


def test_the_export_formats_and_the_attachments(published: Published) -> None:
    url = f"{BASE}/catalog/datasets/{published.dataset_id}/exports"
    assert published.ok("/exports") == {
        "links": [
            {"href": url, "rel": "self"},
            *(
                {"href": f"{url}/{f}", "rel": f}
                for f in ["csv", "json", "jsonl", "geojson", "shp", "kml", "fgb", "gpx", "parquet", "xlsx"]
            ),
        ]
    }
    assert published.ok("/attachments") == {"links": [], "attachments": []}


@pytest.mark.parametrize("path", ["/exports", "/attachments", "/records/" + "0" * 40, "/facets"])
def test_a_missing_dataset_is_dataset_not_found(published: Published, path: str) -> None:
    response = published.client.get(f"{EXPLORE}/catalog/datasets/nope{path}")
    assert (response.status_code, response.json()["error_code"]) == (404, "dataset_not_found")


def test_records_grouped_page_up_to_twenty_thousand_groups(published: Published) -> None:
    body = published.ok("/records", group_by="id", select="id, count(*) as n", limit=20_000, order_by="id")
    assert body["total_count"] == len(ROWS)
    assert body["results"] == [{"id": r.id, "n": 1} for r in ROWS]
    refused = published.get("/records", group_by="id", limit=20_001)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "invalid_limit")


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_compressed_export_is_the_same_file_gzipped(published: Published, fmt: str) -> None:
    plain = published.get(f"/exports/{fmt}", where="id > 3")
    packed = published.get(f"/exports/{fmt}", where="id > 3", compressed="true")
    assert packed.status_code == 200, packed.text
    assert packed.headers["content-type"] == "application/gzip"
    assert packed.headers["content-disposition"] == f'attachment; filename="{published.dataset_id}.{fmt}.gz"'
    assert packed.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.content) == plain.content
    # the slot was given back: as many compressed exports as we like, one after the other
    for _ in range(4):
        assert published.get(f"/exports/{fmt}", compressed="true").status_code == 200


@pytest.mark.parametrize(("asked", "codec"), [(None, "SNAPPY"), ("zstd", "ZSTD"), ("snappy", "SNAPPY")])
def test_parquet_compression(published: Published, asked: str | None, codec: str) -> None:
    params = {"parquet_compression": asked} if asked else {}
    response = published.get("/exports/parquet", **params)
    assert response.status_code == 200, response.text
    table = pq.ParquetFile(io.BytesIO(response.content))
    assert table.metadata.row_group(0).column(0).compression == codec
    assert table.read().column("id").to_pylist() == [r.id for r in ROWS]


def test_an_unknown_parquet_compression_is_refused(published: Published) -> None:
    response = published.get("/exports/parquet", parquet_compression="brotli")
    assert (response.status_code, response.json()["error_code"]) == (400, "invalid_parquet_compression")


def test_include_app_metas_adds_the_explore_template(published: Published) -> None:
    plain = published.ok("")
    with_apps = published.ok("", include_app_metas="true")
    assert "explore" not in plain["metas"]
    assert with_apps["metas"] == {"explore": {}, **plain["metas"]}  # datawharf counts no downloads
    assert {k: v for k, v in with_apps.items() if k != "metas"} == {
        k: v for k, v in plain.items() if k != "metas"
    }
    catalog = published.client.get(f"{EXPLORE}/catalog/datasets", params={"include_app_metas": "true"}).json()
    assert [r["metas"]["explore"] for r in catalog["results"]] == [{}] * catalog["total_count"]
    assert catalog["results"][0]["metas"]["default"] == plain["metas"]["default"]
    selected = published.client.get(
        f"{EXPLORE}/catalog/datasets", params={"include_app_metas": "true", "select": "dataset_id"}
    ).json()
    assert selected["results"] == [{"dataset_id": published.dataset_id}]  # no metas selected: none added
    records = published.ok("/records", include_app_metas="true", limit=1)
    assert records == published.ok("/records", limit=1)
