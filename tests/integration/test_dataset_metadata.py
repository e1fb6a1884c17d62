"""Dataset metadata through the reference's routes (``/datasets/{uid}/metadata/...``,
``/metadata/templates/...``, ``publish_metadata``), on SQLite and PostgreSQL; every answer is checked
against the reference by the suite's conformance hook. What Explore shows of it is in
test_explore_published_metadata.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import make_app_client, make_settings

API = "/api/automation/v1.0"
INTEROP = ["dcat", "dcat_ap", "inspire", "semantic"]


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    with make_app_client(make_settings(tmp_path, database_url=database_url)) as client:
        yield client


def _dataset(client: TestClient, metadata: dict[str, Any] | None = None) -> str:
    body = {"metadata": metadata or {"default": {"title": {"value": "Air quality"}}}}
    response = client.post(f"{API}/datasets/", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["uid"])


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code, body
    return body


def test_templates_are_listed_with_the_reference_fields(client: TestClient) -> None:
    listed = client.get(f"{API}/metadata/templates/", params={"limit": 100}).json()
    names = [t["name"] for t in listed["results"]]
    assert listed["total_count"] == len(names) == 8
    assert set(names) >= {"default", "internal", "visualization", "asset_content_configuration", *INTEROP}
    interop = client.get(f"{API}/metadata/templates/", params={"type": "interop"}).json()
    assert [t["name"] for t in interop["results"]] == INTEROP
    assert client.get(f"{API}/metadata/templates/", params={"is_active": False}).json()["total_count"] == 0

    default = client.get(f"{API}/metadata/templates/default/").json()
    schema = {f["name"]: f for f in default["schema"]}
    assert (default["type"], default["is_system"], default["is_always_active"]) == ("basic", True, True)
    assert schema["keyword"]["type"] == "list" and schema["keyword"]["is_filter"] is True
    assert schema["modified"]["type"] == "datetime"
    assert schema["title"]["requirement_level"] == "mandatory"
    assert schema["language"]["type"] == "enum" and "fr" in schema["language"]["choices"]
    # Exactly the reference's fields of DatasetMetadataInternal.
    internal = client.get(f"{API}/metadata/templates/internal/fields/").json()
    assert [f["name"] for f in internal["results"]] == ["license_id", "theme_id", "draft"]
    field = client.get(f"{API}/metadata/templates/dcat/fields/temporal_coverage_start/").json()
    assert field["type"] == "datetime"
    typed = client.get(f"{API}/metadata/templates/interop/dcat/")
    assert typed.status_code == 200 and typed.json()["name"] == "dcat"
    _error(client.get(f"{API}/metadata/templates/basic/dcat/"), 404, "unknown_metadata_template")
    _error(client.get(f"{API}/metadata/templates/nope/"), 404, "unknown_metadata_template")
    _error(client.get(f"{API}/metadata/templates/dcat/fields/nope/"), 404, "unknown_metadata_field")


def test_fields_set_read_and_deleted_one_by_one(client: TestClient) -> None:
    uid = _dataset(client)
    route = f"{API}/datasets/{uid}/metadata"
    # ods-utils-py's get_dataset_license reads metadata["internal"] unguarded: it is always there.
    assert client.get(f"{API}/datasets/{uid}/").json()["metadata"]["internal"] == {}
    put = client.put(f"{route}/default/description/", json={"value": "Hourly NO2 readings."})
    assert put.status_code == 200, put.text
    assert put.json() == {"value": "Hourly NO2 readings."}
    client.put(f"{route}/default/keyword/", json={"value": ["air", "no2"], "override_remote_value": True})
    default = client.get(f"{route}/default/").json()
    assert default["description"] == {"value": "Hourly NO2 readings."}
    assert default["keyword"] == {"value": ["air", "no2"], "override_remote_value": True}
    assert default["title"] == {"value": "Air quality"}
    assert client.get(f"{route}/default/keyword/").json()["value"] == ["air", "no2"]
    # The dataset's own answer shows the same metadata.
    assert client.get(f"{API}/datasets/{uid}/").json()["metadata"]["default"]["keyword"]["value"] == [
        "air",
        "no2",
    ]

    # huwise-utils-py sets the license by default.license_id: it is internal.license_id.
    assert client.put(f"{route}/default/license_id/", json={"value": "cc-by-4"}).status_code == 200
    assert client.get(f"{route}/internal/license_id/").json() == {"value": "cc-by-4"}
    assert client.get(f"{route}/default/").json()["license_id"] == {"value": "cc-by-4"}
    # ... and a theme by default.theme_id, with one id.
    client.put(f"{route}/default/theme_id/", json={"value": "environment"})
    assert client.get(f"{route}/internal/theme_id/").json() == {"value": ["environment"]}

    # A portal's own templates and fields (data.bs.ch's, which huwise-utils-py also calls) are not ours.
    _error(client.put(f"{route}/default/tags/", json={"value": ["x"]}), 404, "unknown_metadata_field")
    _error(client.get(f"{route}/dcat_ap_ch/"), 404, "unknown_metadata_template")

    assert client.delete(f"{route}/default/keyword/").status_code == 204
    assert "keyword" not in client.get(f"{route}/default/").json()
    _error(client.get(f"{route}/default/keyword/"), 404, "metadata_not_set")
    client.delete(f"{route}/default/license_id/")
    assert "license_id" not in client.get(f"{route}/internal/").json()


def test_wrong_template_field_or_type_is_refused(client: TestClient) -> None:
    uid = _dataset(client)
    route = f"{API}/datasets/{uid}/metadata"
    _error(client.get(f"{route}/nope/"), 404, "unknown_metadata_template")
    _error(client.put(f"{route}/default/nope/", json={"value": "x"}), 404, "unknown_metadata_field")
    wrong = _error(client.put(f"{route}/default/keyword/", json={"value": "air"}), 400, "invalid_metadata")
    assert "metadata.default.keyword.value" in wrong["detail"]
    _error(client.put(f"{route}/default/language/", json={"value": "xx"}), 400, "invalid_metadata")
    _error(client.put(f"{route}/internal/draft/", json={"value": "yes"}), 400, "invalid_metadata")
    _error(client.put(f"{route}/dcat/issued/", json={"value": "last week"}), 400, "invalid_metadata")
    _error(client.put(f"{route}/inspire/spatial_resolution/", json={"value": 2.5}), 400, "invalid_metadata")
    _error(client.put(f"{route}/default/title/", json={"value": None}), 400, "invalid_metadata")
    facets = f"{route}/asset_content_configuration/facets/"
    no_name = _error(client.put(facets, json={"value": [{"facetsort": "count"}]}), 400, "invalid_metadata")
    assert "metadata.asset_content_configuration.facets.value[0]" in no_name["detail"]
    sort = {"value": [{"field_name": "city", "facetsort": "size"}]}
    _error(client.put(facets, json=sort), 400, "invalid_metadata")
    boosts = f"{route}/asset_content_configuration/records_search_boosts/"
    _error(client.put(boosts, json={"value": {"title": -1}}), 400, "invalid_metadata")
    languages = f"{route}/asset_content_configuration/fields_displayed_in_specific_languages/"
    _error(client.put(languages, json={"value": {"title": ["de"]}}), 400, "invalid_metadata")
    kept = {"value": [{"field_name": "city", "facetsort": "-count", "disjunctive": True}]}
    assert client.put(facets, json=kept).json() == kept
    _error(client.put(f"{route}/", json={"custom": {"a": {"value": 1}}}), 400, "unknown_metadata_template")
    body = {"default": {"title": {"value": "t"}, "colour": {"value": "red"}}}
    _error(client.put(f"{route}/", json=body), 400, "unknown_metadata_field")
    _error(client.put(f"{route}/default/", json={"title": "not an object"}), 400, "invalid_metadata")
    # Nothing of the refused writes was kept.
    assert set(client.get(f"{route}/default/").json()) == {"title", "modified", "language"}
    assert set(client.get(f"{route}/asset_content_configuration/").json()) == {"facets"}


def test_whole_metadata_round_trip_as_ods_utils_does(client: TestClient) -> None:
    """ods-utils-py's setters GET .../metadata/, change one value and PUT the whole object back (with
    the read-only remote_value set to null)."""
    uid = _dataset(
        client, {"default": {"title": {"value": "Bikes"}}, "internal": {"license_id": {"value": "a"}}}
    )
    route = f"{API}/datasets/{uid}/metadata/"
    whole = client.get(route).json()
    whole["internal"]["license_id"]["value"] = "odbl"
    whole.setdefault("dcat", {})["temporal_coverage_end"] = {
        "value": "2024-12-31T23:00:00Z",
        "remote_value": None,
        "override_remote_value": True,
    }
    put = client.put(route, json=whole)
    assert put.status_code == 200, put.text
    again = client.get(route).json()
    assert again["internal"]["license_id"] == {"value": "odbl"}
    assert "license_id" not in again["default"]  # shown in the template's own answers only
    assert client.get(f"{route}default/license_id/").json() == {"value": "odbl"}
    assert again["dcat"]["temporal_coverage_end"] == {
        "value": "2024-12-31T23:00:00Z",
        "override_remote_value": True,
    }
    assert again["default"]["title"] == {"value": "Bikes"}
    # A template replaced whole: the fields it omits are unset.
    replaced = client.put(f"{route}dcat/", json={"creator": {"value": "City of Lyon"}})
    assert replaced.json() == {"creator": {"value": "City of Lyon"}}
    assert client.delete(f"{route}dcat/").status_code == 204
    assert "dcat" not in client.get(route).json() or client.get(route).json()["dcat"] == {}


def test_publish_metadata_needs_a_published_dataset(client: TestClient) -> None:
    uid = _dataset(client)
    refused = _error(client.post(f"{API}/datasets/{uid}/publish_metadata/"), 400, "invalid_dataset_status")
    assert "publish" in refused["message"]
    _error(client.post(f"{API}/datasets/da_nope/publish_metadata/"), 404, "dataset_not_found")
