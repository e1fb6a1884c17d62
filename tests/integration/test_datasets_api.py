"""Datasets, resources, field configurations, schedules through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import make_app_client, make_settings

API = "/api/automation/v1.0"
COMPLETE_CSV_PARAMS = {
    "encoding": "utf-8",
    "separator": ",",
    "escapechar": None,
    "doublequote": True,
    "first_row_no": 1,
    "headers_first_row": True,
    "extract_filename": False,
}


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    with make_app_client(make_settings(tmp_path, database_url=database_url)) as client:
        yield client


def _create(client: TestClient, title: str | None = None, **extra: object) -> dict:
    metadata = {"default": {"title": {"value": title}}} if title is not None else {}
    response = client.post(f"{API}/datasets/", json={"metadata": metadata, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_dataset_id_from_title_and_suffixes(client: TestClient) -> None:
    first = _create(client, "Qualité de l'air 2024")
    assert first["dataset_id"] == "qualite-de-lair-2024"
    assert first["uid"].startswith("da_")
    assert first["is_published"] is False
    assert first["metadata"]["default"]["title"] == {"value": "Qualité de l'air 2024"}
    # Unset fields are absent (never {"value": null}); the reference's required ones are always there.
    assert "keyword" not in first["metadata"]["default"]
    assert "description" not in first["metadata"]["default"]
    assert first["metadata"]["default"]["language"] == {"value": "en"}
    assert first["metadata"]["default"]["modified"]["value"].endswith("Z")
    assert _create(client, "Qualité de l'air 2024")["dataset_id"] == "qualite-de-lair-2024-2"
    assert _create(client, "QUALITÉ de l’air — 2024!")["dataset_id"] == "qualite-de-lair-2024-3"
    # A taken explicit id is suffixed too, unless strict.
    assert _create(client, "x", dataset_id="qualite-de-lair-2024")["dataset_id"] == "qualite-de-lair-2024-4"
    strict = client.post(
        f"{API}/datasets/?strict=true",
        json={"dataset_id": "qualite-de-lair-2024", "metadata": {"default": {"title": {"value": "x"}}}},
    )
    assert strict.status_code == 400
    assert strict.json()["error_code"] == "dataset_id_taken"
    missing = client.post(
        f"{API}/datasets/?strict=true", json={"metadata": {"default": {"title": {"value": "x"}}}}
    )
    assert missing.status_code == 400
    assert missing.json()["error_code"] == "missing_dataset_id"


def test_malformed_dataset_id_and_metadata(client: TestClient) -> None:
    response = client.post(f"{API}/datasets/", json={"dataset_id": "Hello World!", "metadata": {}})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "invalid_dataset_id"
    assert "hello-world" in body["message"]
    bad = client.post(
        f"{API}/datasets/", json={"metadata": {"default": {"keyword": {"value": "not a list"}}}}
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "invalid_metadata"
    assert "metadata.default.keyword.value" in bad.json()["detail"]


def test_list_filter_retrieve_update_delete(client: TestClient) -> None:
    created = [_create(client, f"Dataset {n}") for n in range(3)]
    listing = client.get(f"{API}/datasets/?limit=2").json()
    assert listing["total_count"] == 3
    assert [d["dataset_id"] for d in listing["results"]] == ["dataset-0", "dataset-1"]
    assert listing["next"].endswith("limit=2&offset=2")
    only = client.get(f"{API}/datasets/", params={"dataset_id": "dataset-2"}).json()
    assert [d["uid"] for d in only["results"]] == [created[2]["uid"]]
    uid = created[0]["uid"]
    updated = client.put(
        f"{API}/datasets/{uid}/",
        json={
            "dataset_id": "renamed",
            "is_restricted": True,
            "metadata": {"default": {"title": {"value": "New"}, "keyword": {"value": ["air", "eau"]}}},
        },
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["dataset_id"] == "renamed"
    assert updated.json()["is_restricted"] is True
    assert updated.json()["metadata"]["default"]["keyword"] == {"value": ["air", "eau"]}
    unchanged = client.put(f"{API}/datasets/{uid}/")  # the reference's body is optional (huwise's refresh)
    assert unchanged.status_code == 200, unchanged.text
    assert {k: unchanged.json()[k] for k in ("dataset_id", "is_restricted", "metadata")} == {
        k: updated.json()[k] for k in ("dataset_id", "is_restricted", "metadata")
    }
    taken = client.put(f"{API}/datasets/{uid}/", json={"dataset_id": "dataset-1", "metadata": {}})
    assert taken.json()["error_code"] == "dataset_id_taken"
    assert client.delete(f"{API}/datasets/{uid}/").status_code == 204
    gone = client.get(f"{API}/datasets/{uid}/")
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "dataset_not_found"


def test_field_configurations_crud(client: TestClient) -> None:
    uid = _create(client, "Fields")["uid"]
    configs = [
        {"type": "rename", "label": "r", "from_name": "nom", "to_name": "name", "field_label": "Name"},
        {"type": "type", "label": "t", "field": "code", "type_param": "int"},
        {"type": "annotate", "label": "a", "field": "code", "annotation": "unit", "args": ["km2"]},
        {"type": "description", "label": "d", "field": "code", "description": "The code"},
        {"type": "order", "label": "o", "args": ["code", "name"]},
        {"type": "delete", "label": "x", "field": "junk"},
    ]
    made = []
    for config in configs:
        response = client.post(f"{API}/datasets/{uid}/fields/", json=config)
        assert response.status_code == 201, response.text
        made.append(response.json())
        assert made[-1]["uid"].startswith("pr_")
        assert {k: v for k, v in made[-1].items() if k != "uid"} == config
    listing = client.get(f"{API}/datasets/{uid}/fields/").json()
    assert [c["type"] for c in listing["results"]] == [c["type"] for c in configs]
    bad = client.post(
        f"{API}/datasets/{uid}/fields/", json={"type": "type", "field": "x", "type_param": "blob"}
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "invalid_field_configuration"
    bad_type = client.post(f"{API}/datasets/{uid}/fields/", json={"type": "explode", "field": "x"})
    assert bad_type.status_code == 400
    changed = client.put(
        f"{API}/datasets/{uid}/fields/{made[1]['uid']}/",
        json={"type": "type", "label": "t2", "field": "code", "type_param": "text"},
    )
    assert changed.json()["type_param"] == "text"
    assert client.delete(f"{API}/datasets/{uid}/fields/{made[0]['uid']}/").status_code == 204
    assert client.get(f"{API}/datasets/{uid}/fields/").json()["total_count"] == 5


def test_schedules_crud(client: TestClient) -> None:
    uid = _create(client, "Scheduled")["uid"]
    created = client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "0 * * * *"})
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["uid"].startswith("sc_")
    assert schedule["cron_schedule"] == "0 * * * *"
    assert schedule["next_run_at"].endswith(":00:00Z") or schedule["next_run_at"].endswith(":00:00")
    bad = client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "every day"})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "invalid_cron_schedule"
    six = client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "0 0 * * * *"})
    assert six.json()["error_code"] == "invalid_cron_schedule"
    updated = client.put(
        f"{API}/datasets/{uid}/schedules/{schedule['uid']}/", json={"cron_schedule": "30 6 * * 1"}
    ).json()
    assert updated["cron_schedule"] == "30 6 * * 1"
    assert updated["description"] == "At 06:30, only on Monday"
    assert client.get(f"{API}/datasets/{uid}/schedules/").json()["total_count"] == 1
    assert client.delete(f"{API}/datasets/{uid}/schedules/{schedule['uid']}/").status_code == 204
    assert client.get(f"{API}/datasets/{uid}/schedules/").json()["total_count"] == 0


def test_publish_without_resource_is_refused(client: TestClient) -> None:
    uid = _create(client, "Empty")["uid"]
    response = client.post(f"{API}/datasets/{uid}/publish/")
    assert response.status_code == 400
    assert response.json()["error_code"] == "no_resource"
    status = client.get(f"{API}/datasets/{uid}/status/").json()
    assert status["status"] == "idle"
    assert status["is_published"] is False
    abort = client.post(f"{API}/datasets/{uid}/abort/")
    assert abort.status_code == 400
    assert abort.json()["error_code"] == "invalid_dataset_status"
    assert "'idle'" in abort.json()["message"]


def test_datasource_header_values_are_write_only_and_encrypted_at_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    resource = {
        "type": "csvfile",
        "title": "a.csv",
        "params": COMPLETE_CSV_PARAMS,  # nothing to guess: the object is never read
        "datasource": {
            "type": "amazon_s3",
            "url": "s3://open-bucket/a.csv",
            "headers": [{"name": "x-amz-meta-token", "value": "header-secret-at-rest"}],
        },
    }
    with make_app_client(make_settings(home)) as client:
        dataset = _create(client, "Headers")["uid"]
        created = client.post(f"{API}/datasets/{dataset}/resources/", json=resource)
        assert created.status_code == 201, created.text
        route = f"{API}/datasets/{dataset}/resources/{created.json()['uid']}/"
        shown = client.get(route).json()
        assert shown["datasource"]["headers"] == [{"name": "x-amz-meta-token", "value": None}]
        # A PUT of what was read keeps the stored value.
        assert client.put(route, json={**resource, "datasource": shown["datasource"]}).status_code == 200
    database = (home / "datawharf.db").read_bytes()
    assert b"header-secret-at-rest" not in database and b"x-amz-meta-token" in database

    (home / "secret.key").unlink()  # the encryption key is lost: the stored value cannot be kept
    with make_app_client(make_settings(home)) as client:
        kept = client.put(route, json={**resource, "datasource": shown["datasource"]})
        assert kept.status_code == 400
        assert kept.json()["error_code"] == "secret_undecryptable"
        assert "DATAWHARF_SECRET_KEY" in kept.json()["message"]
