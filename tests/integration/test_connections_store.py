"""Connections in the metadata store, on SQLite and on the real PostgreSQL: CRUD, and ``dataset_count``
/ the delete refusal fed by the datasets domain's resources (``connection_uid`` column)."""

from __future__ import annotations

from pathlib import Path

from datawharf.store.db import open_database
from datawharf.store.models import Connection
from tests.support.app import make_app_client, make_settings
from tests.support.moto import S3Bucket

API = "/api/automation/v1.0"


def test_connection_store_and_usage_on_both_databases(
    tmp_path: Path, database_url: str, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("fruits.csv", b"name,qty\napple,3\n")
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        allowed_private_hosts=[s3_bucket.server.host_port],
        s3_max_attempts=1,
    )
    body = {
        "type": "amazon_s3",
        "url": s3_bucket.url(),
        "auth": {
            "type": "aws_signature_v4",
            "access_key_id": "testing",
            "secret_access_key": "store-secret",
            "region": "us-east-1",
        },
        "headers": [{"name": "x-amz-meta-a", "value": "store-header"}],
    }
    with make_app_client(settings) as client:
        created = client.post(f"{API}/datasource_connections/", json=body).json()
        uid = created["uid"]
        assert created["validation"]["is_valid"] is True
        dataset = client.post(f"{API}/datasets/", json={"dataset_id": "fruits"}).json()
        resource = client.post(
            f"{API}/datasets/{dataset['uid']}/resources/",
            json={
                "type": "csvfile",
                "title": "fruits.csv",
                "datasource": {"type": "amazon_s3", "url": "fruits.csv", "connection": {"uid": uid}},
            },
        )
        assert resource.status_code == 201, resource.text
        assert client.get(f"{API}/datasource_connections/{uid}/").json()["dataset_count"] == 1
        refused = client.delete(f"{API}/datasource_connections/{uid}/")
        assert (refused.status_code, refused.json()["error_code"]) == (409, "connection_in_use")
        sorted_by_use = client.get(f"{API}/datasource_connections/", params={"sort": "-dataset_count"}).json()
        assert sorted_by_use["results"][0]["uid"] == uid
        assert client.delete(f"{API}/datasets/{dataset['uid']}/").status_code == 204
        assert client.get(f"{API}/datasource_connections/{uid}/").json()["dataset_count"] == 0
    database = open_database(settings)
    try:
        with database.session() as session:
            stored = session.get(Connection, uid)
            assert stored is not None and stored.header_names == ["x-amz-meta-a"]
            assert stored.secret_token and "store-secret" not in stored.secret_token
            assert settings.fernet.decrypt(stored.secret_token.encode()) == b"store-secret"
            assert stored.created_at is not None and stored.validation["is_valid"] is True
    finally:
        database.dispose()
    with make_app_client(settings) as client:
        assert client.delete(f"{API}/datasource_connections/{uid}/").status_code == 204
        assert client.get(f"{API}/datasource_connections/").json()["total_count"] == 0
