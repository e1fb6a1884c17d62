"""Explore API v2.1 access rules and the catalog: public, restricted (API key with
explore_restricted_dataset, in the header or ?apikey=) and unpublished datasets, each published (or not)
for real through the management API; the catalog's ODSQL over dataset metadata."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import AUTH
from tests.support.explore import API, EXPLORE, FIELDS, ROWS, TYPES, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer


@dataclass(frozen=True)
class Portal:
    client: TestClient
    public: dict[str, Any]
    restricted: dict[str, Any]
    draft: dict[str, Any]
    reader_key: str  # explore_restricted_dataset
    editor_key: str  # other permissions only

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"apikey {key}"} if key else {}
        return self.client.get(f"{EXPLORE}{path}", params=params, headers=headers)


def _key(client: TestClient, permissions: list[str]) -> str:
    response = client.post(f"{API}/apikeys/", headers=AUTH, json={"label": "k", "permissions": permissions})
    assert response.status_code == 201, response.text
    return response.json()["key"]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Portal]:
    with explore_client(tmp_path_factory.mktemp("explore-access"), moto_server) as client:
        bucket = moto_server.create_bucket()
        body = csv_bytes(ROWS)
        public = publish_csv(client, moto_server, bucket, "a.csv", body, "Air quality stations")
        restricted = publish_csv(
            client, moto_server, bucket, "b.csv", csv_bytes(ROWS[:4]), "Budget lines", restricted=True
        )
        draft = publish_csv(client, moto_server, bucket, "c.csv", body, "Draft census", publish=False)
        yield Portal(
            client,
            public,
            restricted,
            draft,
            reader_key=_key(client, ["explore_restricted_dataset"]),
            editor_key=_key(client, ["edit_dataset"]),
        )


def _records(dataset: dict[str, Any]) -> str:
    return f"/catalog/datasets/{dataset['dataset_id']}/records"


def test_public_dataset_needs_no_key(portal: Portal) -> None:
    response = portal.get(_records(portal.public), limit=1)
    assert response.status_code == 200
    assert response.json()["total_count"] == len(ROWS)
    detail = portal.get(f"/catalog/datasets/{portal.public['dataset_id']}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["dataset_id"] == portal.public["dataset_id"]
    assert body["dataset_uid"] == portal.public["uid"]
    assert body["visibility"] == "domain"
    assert body["has_records"] is True
    assert body["features"] == ["analyze", "geo", "timeserie"]
    assert body["metas"]["default"]["title"] == "Air quality stations"
    assert body["metas"]["default"]["keyword"] == ["test", "explore"]
    assert body["metas"]["default"]["records_count"] == len(ROWS)
    assert body["metas"]["default"]["modified"] is not None
    assert [(f["name"], f["type"]) for f in body["fields"]] == [(n, TYPES[n]) for n in FIELDS]
    assert body["fields"][4]["label"] == "Surface (km²)"


def test_restricted_dataset_needs_the_explore_permission(portal: Portal) -> None:
    path = _records(portal.restricted)
    for key in (None, portal.editor_key):
        refused = portal.get(path, key=key)
        assert refused.status_code == 404  # as if it did not exist: no oracle for restricted ids
        assert refused.json()["error_code"] == "dataset_not_found"
        assert "explore_restricted_dataset" in refused.json()["message"]
        assert portal.get(f"/catalog/datasets/{portal.restricted['dataset_id']}", key=key).status_code == 404
        assert portal.get(path.replace("/records", "/exports/csv"), key=key).status_code == 404
    allowed = portal.get(path, key=portal.reader_key, select="id")
    assert allowed.status_code == 200
    assert allowed.json() == {"total_count": 4, "results": [{"id": r.id} for r in ROWS[:4]]}
    by_query = portal.client.get(f"{EXPLORE}{path}", params={"apikey": portal.reader_key, "select": "id"})
    assert by_query.json() == allowed.json()
    export = portal.get(path.replace("/records", "/exports/jsonl"), key=portal.reader_key)
    assert export.status_code == 200
    assert len(export.content.splitlines()) == 4


def test_bad_keys_are_refused(portal: Portal) -> None:
    wrong = portal.get(_records(portal.public), key="not-a-key")
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "invalid_api_key"
    malformed = portal.client.get(
        f"{EXPLORE}{_records(portal.public)}", headers={"Authorization": "Bearer x"}
    )
    assert malformed.status_code == 401
    assert malformed.json()["error_code"] == "invalid_authorization_header"


def test_unpublished_dataset_is_not_found_even_with_an_admin_key(portal: Portal) -> None:
    for path in (_records(portal.draft), f"/catalog/datasets/{portal.draft['dataset_id']}"):
        response = portal.client.get(f"{EXPLORE}{path}", headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error_code"] == "dataset_not_found"


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [d["dataset_id"] for d in response.json()["results"]]


def test_catalog_lists_what_the_caller_may_read(portal: Portal) -> None:
    anonymous = portal.get("/catalog/datasets")
    assert _ids(anonymous) == [portal.public["dataset_id"]]
    assert anonymous.json()["total_count"] == 1
    reader = portal.get("/catalog/datasets", key=portal.reader_key)
    assert _ids(reader) == sorted([portal.public["dataset_id"], portal.restricted["dataset_id"]])
    assert reader.json()["results"][1]["visibility"] == "restricted"


def test_catalog_where_order_by_limit_offset(portal: Portal) -> None:
    key = portal.reader_key
    both = sorted([portal.public, portal.restricted], key=lambda d: d["dataset_id"])
    assert _ids(portal.get("/catalog/datasets", key=key, where="title like 'budget%'")) == [
        portal.restricted["dataset_id"]
    ]
    assert _ids(portal.get("/catalog/datasets", key=key, where="records_count > 10")) == [
        portal.public["dataset_id"]
    ]
    assert _ids(portal.get("/catalog/datasets", key=key, where="search('quality')")) == [
        portal.public["dataset_id"]
    ]
    assert _ids(portal.get("/catalog/datasets", key=key, where="search(keyword, 'explore')")) == [
        d["dataset_id"] for d in both
    ]
    assert _ids(portal.get("/catalog/datasets", key=key, where="modified >= date'2000-01-01'")) == [
        d["dataset_id"] for d in both
    ]
    assert _ids(portal.get("/catalog/datasets", key=key, refine="visibility:restricted")) == [
        portal.restricted["dataset_id"]
    ]
    ordered = portal.get("/catalog/datasets", key=key, order_by="records_count desc")
    assert _ids(ordered) == [portal.public["dataset_id"], portal.restricted["dataset_id"]]
    page = portal.get("/catalog/datasets", key=key, order_by="title", limit=1, offset=1)
    assert page.json()["total_count"] == 2
    assert _ids(page) == [portal.restricted["dataset_id"]]


def test_catalog_errors(portal: Portal) -> None:
    for params, code in (
        ({"where": "nope = 1"}, "unknown_field"),
        ({"where": "title ="}, "odsql_syntax_error"),
        ({"limit": 101}, "invalid_limit"),
        ({"order_by": "title sideways"}, "odsql_syntax_error"),
    ):
        response = portal.get("/catalog/datasets", **params)
        assert response.status_code == 400, params
        assert response.json()["error_code"] == code
    unknown = portal.get("/catalog/datasets", where="nope = 1").json()
    assert "records_count" in unknown["detail"]["available_fields"]
