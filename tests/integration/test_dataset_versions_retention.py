"""Version retention and deletion on both metadata databases (SQLite and PostgreSQL): row locks,
the deletions in the publish's transaction, the files a restored version shares."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datawharf.settings import Settings
from tests.integration.test_datasets_publish import API, create_connection, create_dataset, publish
from tests.support.app import make_app_client, make_settings
from tests.support.moto import S3Bucket


@pytest.fixture
def settings(tmp_path: Path, database_url: str, s3_bucket: S3Bucket) -> Settings:
    return make_settings(
        tmp_path / "home",
        database_url=database_url,
        allowed_private_hosts=[s3_bucket.server.host_port],
        scheduler_interval=3600,
        versions_keep=2,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_app_client(settings) as client:
        yield client


def _folders_become(folder: Path, expected: list[str]) -> list[str]:
    """The version folders once they are ``expected``: those of pruned versions go right after the
    commit that deleted their rows, a moment after the status says the publish is done."""
    deadline = time.monotonic() + 5
    while (names := sorted(p.name for p in folder.iterdir())) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return names


def _published(client: TestClient, uid: str) -> str:
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    return str(status["version_uid"])


def test_retention_and_deletion(client: TestClient, settings: Settings, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("v.csv", b"id;name\n1;a\n2;b\n")
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(client, "versions", s3_bucket.url("v.csv"), connection=connection)
    folder = settings.warehouse_dir / uid

    def listed() -> list[str]:
        return [v["uid"] for v in client.get(f"{API}/datasets/{uid}/versions/").json()["results"]]

    _v1, v2, v3 = (_published(client, uid) for _ in range(3))
    assert listed() == [v3, v2]
    assert _folders_become(folder, sorted([v2, v3])) == sorted([v2, v3])
    assert client.post(f"{API}/datasets/{uid}/versions/{v2}/restore/").status_code == 200
    restored = client.get(f"{API}/datasets/{uid}/status/").json()["version_uid"]
    v4 = _published(client, uid)
    assert listed() == [v4, restored]
    assert _folders_become(folder, sorted([v2, v4])) == sorted([v2, v4])  # v2's files: the restore's

    current = client.delete(f"{API}/datasets/{uid}/versions/{v4}/")
    assert (current.status_code, current.json()["error_code"]) == (409, "version_is_current")
    assert client.delete(f"{API}/datasets/{uid}/versions/{restored}/").status_code == 204
    assert listed() == [v4]
    assert sorted(p.name for p in folder.iterdir()) == [v4]
    again = client.delete(f"{API}/datasets/{uid}/versions/{restored}/")
    assert (again.status_code, again.json()["error_code"]) == (404, "version_not_found")
