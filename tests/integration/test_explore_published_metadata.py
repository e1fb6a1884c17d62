"""What the Explore API v2.1 shows of a dataset's metadata is its *published* metadata: an edit through
the management API stays a draft until ``publish_metadata`` (or a publish of the data), then ``metas``,
the catalog's ``refine`` and its facets show it. Datasets published for real (moto S3, a CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import AUTH
from tests.support.explore import API, EXPLORE, ROWS, csv_bytes, explore_client, publish_csv, wait_idle
from tests.support.moto import MotoServer


@dataclass(frozen=True)
class Portal:
    client: TestClient
    uid: str
    dataset_id: str

    def metas(self) -> dict[str, Any]:
        response = self.client.get(f"{EXPLORE}/catalog/datasets/{self.dataset_id}")
        assert response.status_code == 200, response.text
        metas: dict[str, Any] = response.json()["metas"]
        return metas

    def catalog_ids(self, **params: Any) -> list[str]:
        response = self.client.get(f"{EXPLORE}/catalog/datasets", params=params)
        assert response.status_code == 200, response.text
        return [d["dataset_id"] for d in response.json()["results"]]

    def manage(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, f"{API}/datasets/{self.uid}/{path}", headers=AUTH, **kwargs)
        assert response.status_code in (200, 204), response.text
        return response


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Portal]:
    with explore_client(tmp_path_factory.mktemp("explore-metadata"), moto_server) as client:
        bucket = moto_server.create_bucket()
        dataset = publish_csv(
            client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items", keywords=("bike",)
        )
        yield Portal(client, dataset["uid"], dataset["dataset_id"])


def test_edits_show_in_explore_only_once_published(portal: Portal) -> None:
    assert portal.metas()["default"]["keyword"] == ["bike"]
    portal.manage("PUT", "metadata/default/description/", json={"value": "Items sold, city by city."})
    portal.manage("PUT", "metadata/default/keyword/", json={"value": ["bike", "retail"]})
    portal.manage("PUT", "metadata/default/publisher/", json={"value": "City of Lyon"})
    portal.manage("PUT", "metadata/internal/license_id/", json={"value": "odbl"})
    portal.manage("PUT", "metadata/dcat/creator/", json={"value": "Lyon open data team"})

    # A draft: the management API shows it, Explore does not (metas, refine, facets).
    draft = portal.manage("GET", "metadata/default/").json()
    assert draft["publisher"] == {"value": "City of Lyon"}
    metas = portal.metas()
    assert "description" not in metas["default"] and "publisher" not in metas["default"]
    assert portal.catalog_ids(refine="keyword:retail") == []

    portal.manage("POST", "publish_metadata/")
    metas = portal.metas()
    assert metas["default"]["description"] == "Items sold, city by city."
    assert metas["default"]["keyword"] == ["bike", "retail"]
    assert metas["default"]["publisher"] == "City of Lyon"
    assert metas["default"]["license"] == "odbl"  # set by its id alone: the catalog filters on it
    assert metas["dcat"]["creator"] == "Lyon open data team"
    assert "internal" not in metas  # kept off the portal, as Opendatasoft does
    assert portal.catalog_ids(refine="keyword:retail") == [portal.dataset_id]
    assert portal.catalog_ids(refine="publisher:City of Lyon") == [portal.dataset_id]
    assert portal.catalog_ids(refine="license:odbl") == [portal.dataset_id]
    assert portal.catalog_ids(where='publisher = "City of Lyon"') == [portal.dataset_id]
    facets = portal.client.get(f"{EXPLORE}/catalog/facets", params={"facet": "publisher"}).json()
    publisher = next(f for f in facets["facets"] if f["name"] == "publisher")
    assert [(v["name"], v["count"]) for v in publisher["facets"]] == [("City of Lyon", 1)]


def test_a_publish_of_the_data_publishes_the_metadata(portal: Portal) -> None:
    portal.manage("PUT", "metadata/default/theme/", json={"value": ["Transport"]})
    assert "theme" not in portal.metas()["default"]
    portal.manage("POST", "publish/")
    status = wait_idle(portal.client, portal.uid)
    assert status["status"] == "idle", status["message"]
    assert portal.metas()["default"]["theme"] == ["Transport"]
    assert portal.catalog_ids(refine="theme:Transport") == [portal.dataset_id]


def test_modified_follows_metadata_changes_when_asked(portal: Portal) -> None:
    before = portal.metas()["default"]["modified"]
    portal.manage("PUT", "metadata/default/modified_updates_on_metadata_change/", json={"value": True})
    portal.manage("POST", "publish_metadata/")
    after = portal.metas()["default"]["modified"]
    assert after > before
