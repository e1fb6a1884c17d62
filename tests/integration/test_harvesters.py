"""S3 harvesters against the moto server: datasets made, refreshed and unpublished as objects come and go."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from datawharf.harvest.harvest import run_harvest
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.harvesters import Harvester
from tests.integration.test_datasets_publish import API, create_connection, wait_status
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

PARAMS = {"separator": ",", "encoding": "utf-8", "headers_first_row": True}


def csv(rows: int, start: int = 0) -> bytes:
    return ("station,count\n" + "".join(f"st{n},{n}\n" for n in range(start, start + rows))).encode()


@pytest.fixture
def app_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return make_settings(tmp_path / "home", allowed_private_hosts=[moto_server.host_port])


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def make_harvester(client: TestClient, bucket: S3Bucket, **extra: Any) -> dict[str, Any]:
    body = {
        "type": "amazon_s3",
        "name": "Daily exports",
        "url": bucket.url("exports/"),
        "connection": {"uid": create_connection(client, bucket.server)},
        "extractor_type": "csvfile",
        "params": PARAMS,
        **extra,
    }
    response = client.post(f"{API}/harvesters/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def start(client: TestClient, uid: str) -> dict[str, Any]:
    """Start a pass and wait for its end: the harvester as it then is."""
    before = client.get(f"{API}/harvesters/{uid}/").json()["last_started_at"]
    response = client.post(f"{API}/harvesters/{uid}/start/")
    assert response.status_code == 200, response.text
    assert response.json()["uid"] == uid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        harvester = client.get(f"{API}/harvesters/{uid}/").json()
        if harvester["status"] == "idle" and harvester["last_started_at"] != before:
            assert not harvester["has_error"], client.get(f"{API}/harvesters/{uid}/errors/").json()
            return harvester
        time.sleep(0.05)
    raise AssertionError("the harvest did not end")


def harvested(client: TestClient) -> dict[str, dict[str, Any]]:
    """Every dataset by dataset_id, its runs ended."""
    found = client.get(f"{API}/datasets/", params={"limit": 100}).json()["results"]
    ended = {d["uid"]: wait_status(client, d["uid"]) for d in found}
    found = client.get(f"{API}/datasets/", params={"limit": 100}).json()["results"]
    return {d["dataset_id"]: {**d, "status": ended[d["uid"]]} for d in found}


def records(client: TestClient, dataset_id: str) -> int:
    response = client.get(f"/api/explore/v2.1/catalog/datasets/{dataset_id}/records", params={"limit": 0})
    assert response.status_code == 200, response.text
    return int(response.json()["total_count"])


def test_the_harvester_creates_refreshes_and_unpublishes_datasets(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("exports/2026/12/stations.csv", csv(3))
    s3_bucket.put("exports/counters_north.csv", csv(4))
    s3_bucket.put("exports/counters-south.csv.gz", gzip.compress(csv(5)))
    s3_bucket.put("elsewhere/other.csv", csv(1))
    harvester = make_harvester(client, s3_bucket)
    assert harvester["status"] == "idle" and harvester["mode"] == "object"

    # Three objects: three datasets, ids and titles from the keys.
    done = start(client, harvester["uid"])
    assert done["last_report"]["created"] == 3, done
    datasets = harvested(client)
    assert set(datasets) == {"2026-12-stations", "counters-north", "counters-south"}
    assert datasets["2026-12-stations"]["metadata"]["default"]["title"]["value"] == "2026 / 12 / stations"
    assert datasets["counters-north"]["metadata"]["default"]["title"]["value"] == "Counters north"
    assert all(d["is_published"] for d in datasets.values())
    assert (records(client, "2026-12-stations"), records(client, "counters-north")) == (3, 4)
    assert records(client, "counters-south") == 5
    assert done["attached_datasets_count"] == 3 and done["remote_datasets_count"] == 3

    # A fourth object: a fourth dataset; the others are "refresh if changed" (nothing changed).
    s3_bucket.put("exports/counters-east.csv", csv(2))
    done = start(client, harvester["uid"])
    assert (done["last_report"]["created"], done["last_report"]["refreshed"]) == (1, 3), done
    datasets = harvested(client)
    assert records(client, "counters-east") == 2
    versions = client.get(f"{API}/datasets/{datasets['counters-north']['uid']}/versions/").json()
    assert versions["total_count"] == 1  # unchanged: no new version

    # One removed: its dataset unpublished, still there; one changed: refreshed with its new records.
    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key="exports/counters_north.csv")
    s3_bucket.put("exports/2026/12/stations.csv", csv(7))
    done = start(client, harvester["uid"])
    assert done["last_report"]["unpublished"] == 1, done
    datasets = harvested(client)
    assert datasets["counters-north"]["is_published"] is False
    assert records(client, "2026-12-stations") == 7
    assert done["published_datasets_count"] == 3 and done["attached_datasets_count"] == 4

    # It comes back: published again.
    s3_bucket.put("exports/counters_north.csv", csv(4))
    done = start(client, harvester["uid"])
    assert done["last_report"]["republished"] == 1, done
    harvested(client)
    assert records(client, "counters-north") == 4


def test_two_passes_at_once_make_each_dataset_once(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    for number in range(4):
        s3_bucket.put(f"exports/part-{number}.csv", csv(2))
    uid = make_harvester(client, s3_bucket)["uid"]
    database = Database(app_settings)
    reports: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: reports.append(run_harvest(database, app_settings, uid)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    database.dispose()
    assert sorted(r["created"] for r in reports) == [0, 4], reports
    found = client.get(f"{API}/datasets/", params={"limit": 100}).json()
    assert found["total_count"] == 4
    assert sorted(d["dataset_id"] for d in found["results"]) == [f"part-{n}" for n in range(4)]


def test_folder_mode_makes_one_dataset_per_folder(client: TestClient, s3_bucket: S3Bucket) -> None:
    for day in ("01", "02"):
        for part in range(3):
            s3_bucket.put(f"exports/day-{day}/part-{part}.csv", csv(2))
    s3_bucket.put("exports/loose.csv", csv(1))  # directly under the prefix: not a folder
    harvester = make_harvester(client, s3_bucket, mode="folder", title_template="Day {folder}")
    done = start(client, harvester["uid"])
    assert done["last_report"]["created"] == 2, done
    datasets = harvested(client)
    assert set(datasets) == {"day-01", "day-02"}
    assert datasets["day-01"]["metadata"]["default"]["title"]["value"] == "Day day 01"
    assert records(client, "day-02") == 6


def test_the_scheduler_pass_runs_a_due_harvester_once(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    s3_bucket.put("exports/due.csv", csv(2))
    uid = make_harvester(client, s3_bucket, cron_schedule="0 3 * * *")["uid"]
    assert client.get(f"{API}/harvesters/{uid}/").json()["next_run_at"] is not None
    runtime = client.app.state.datasets_runtime  # type: ignore[attr-defined]
    runtime.tick()
    assert client.get(f"{API}/harvesters/{uid}/").json()["last_started_at"] is None  # not due yet
    database = Database(app_settings)
    try:
        with database.session() as session:
            session.execute(update(Harvester).values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC)))
    finally:
        database.dispose()
    runtime.tick()
    done = client.get(f"{API}/harvesters/{uid}/").json()
    assert done["last_report"]["created"] == 1 and done["next_run_at"] > "2026"
    assert harvested(client)["due"]["is_published"]
    runtime.tick()  # moved on: not run again
    assert client.get(f"{API}/harvesters/{uid}/").json()["last_started_at"] == done["last_started_at"]


def test_refusals_are_reference_errors(client: TestClient, s3_bucket: S3Bucket) -> None:
    connection = {"uid": create_connection(client, s3_bucket.server)}
    body = {"type": "amazon_s3", "name": "H", "connection": connection}
    cases = [
        ({**body, "url": s3_bucket.url("one.csv")}, "url"),
        ({**body, "url": s3_bucket.url("exports/*.csv"), "mode": "folder"}, "url"),
        ({**body, "url": s3_bucket.url("exports/"), "dataset_id_template": "{nope}"}, "dataset_id_template"),
        ({**body, "url": s3_bucket.url("exports/"), "extractor_type": "nope"}, "extractor_type"),
        ({**body, "url": s3_bucket.url("exports/"), "forced_metas": {"default": "x"}}, "forced_metas"),
    ]
    for given, field in cases:
        refused = client.post(f"{API}/harvesters/", json=given)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "invalid_harvester" and field in refused.json()["detail"]
    bad_cron = client.post(
        f"{API}/harvesters/", json={**body, "url": s3_bucket.url("e/"), "cron_schedule": "x"}
    )
    assert bad_cron.json()["error_code"] == "invalid_cron_schedule"
    outside = client.post(f"{API}/harvesters/", json={**body, "url": "http://other.example/other-bucket/e/"})
    assert outside.json()["error_code"] == "url_outside_connection"
    missing = client.get(f"{API}/harvesters/hv_nothing/")
    assert missing.status_code == 404 and missing.json()["error_code"] == "harvester_not_found"
    assert client.get(f"{API}/harvesters/").json()["total_count"] == 0
    editor = client.post(
        f"{API}/apikeys/", json={"label": "editor", "permissions": ["create_dataset"]}
    ).json()
    denied = client.get(f"{API}/harvesters/", headers={"Authorization": f"apikey {editor['key']}"})
    assert denied.status_code == 403 and "edit_domain" in denied.json()["message"]


def test_update_and_delete_keep_the_datasets(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("exports/kept.csv", csv(1))
    harvester = make_harvester(client, s3_bucket)
    start(client, harvester["uid"])
    updated = client.put(
        f"{API}/harvesters/{harvester['uid']}/",
        json={**harvester, "name": "Renamed", "dataset_id_template": "new-{stem}"},
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["name"], updated.json()["dataset_id_template"]) == ("Renamed", "new-{stem}")
    assert updated.json()["connection"] == harvester["connection"]  # sent back as it was: kept
    s3_bucket.put("other/fresh.csv", csv(2))
    moved = client.put(f"{API}/harvesters/{harvester['uid']}/", json={"url": s3_bucket.url("other/")})
    assert moved.status_code == 200, moved.text
    done = start(client, harvester["uid"])
    assert (done["last_report"]["created"], done["last_report"]["unpublished"]) == (1, 1), done
    assert {d: v["is_published"] for d, v in harvested(client).items()} == {"kept": False, "new-fresh": True}
    assert client.delete(f"{API}/harvesters/{harvester['uid']}/").status_code == 204
    assert client.get(f"{API}/harvesters/{harvester['uid']}/").status_code == 404
    assert [d["dataset_id"] for d in client.get(f"{API}/datasets/").json()["results"]] == [
        "kept",
        "new-fresh",
    ]
