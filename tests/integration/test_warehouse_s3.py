"""The warehouse on an S3 bucket of the suite's moto_server (``DATAWHARF_WAREHOUSE_URL``): what a publish
writes there, restores, a failed publish, the sweep of unreferenced prefixes and stale multipart uploads,
the outbound rules on its endpoint, and its secret key kept out of every log, answer and error."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from datawharf.datasets.runtime import DatasetsRuntime
from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.warehouse import make_warehouse
from datawharf.store.warehouse_s3 import MANIFEST
from tests.integration.test_datasets_publish import API, CSV, create_connection, create_dataset, publish
from tests.support.app import make_app_client, make_settings
from tests.support.moto import IamMotoServer, MotoServer, S3Bucket

# moto's open server takes any key: this one only has to be recognisable wherever it might leak.
SECRET = "wh-SECRET-never-shown-Zq8v3Kp1"


def warehouse_settings(home: Path, server: MotoServer, bucket: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allowed_private_hosts": [server.host_port],
        "scheduler_interval": 3600,
        "warehouse_url": f"s3://{bucket}/wh",
        "warehouse_endpoint_url": server.endpoint_url,
        "warehouse_access_key_id": "testing",
        "warehouse_secret_access_key": SECRET,
        **overrides,
    }
    return make_settings(home, **values)


@pytest.fixture
def wh_bucket(moto_server: MotoServer) -> str:
    return moto_server.create_bucket()


@pytest.fixture
def wh_settings(tmp_path: Path, moto_server: MotoServer, wh_bucket: str) -> Settings:
    return warehouse_settings(tmp_path / "home", moto_server, wh_bucket)


@pytest.fixture
def client(wh_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(wh_settings) as client:
        yield client


def keys(server: MotoServer, bucket: str, prefix: str = "wh/") -> list[str]:
    listed = server.boto3_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(str(o["Key"]) for o in listed.get("Contents", []))


def runtime(client: TestClient) -> DatasetsRuntime:
    found = client.app.state.datasets_runtime  # type: ignore[attr-defined]
    assert isinstance(found, DatasetsRuntime)
    return found


def published(client: TestClient, uid: str) -> str:
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    return str(status["version_uid"])


def test_publish_writes_parts_then_manifest_and_versions_restore(
    client: TestClient, wh_settings: Settings, moto_server: MotoServer, wh_bucket: str, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("c.csv", CSV)
    uid = create_dataset(
        client, "on s3", s3_bucket.url("c.csv"), connection={"uid": create_connection(client, moto_server)}
    )
    v1 = published(client, uid)
    assert keys(moto_server, wh_bucket) == [f"wh/{uid}/{v1}/{MANIFEST}", f"wh/{uid}/{v1}/part-00000.parquet"]
    assert not (wh_settings.warehouse_dir / uid).exists()  # nothing in the local folder

    warehouse = make_warehouse(wh_settings)
    assert not warehouse.is_local and warehouse.version_path(uid, v1) == f"{wh_bucket}/wh/{uid}/{v1}"
    part = f"{warehouse.version_path(uid, v1)}/part-00000.parquet"
    table = pq.read_table(part, filesystem=warehouse.filesystem)
    assert table.num_rows == 4 and "commune" in table.column_names
    body = moto_server.boto3_client().get_object(Bucket=wh_bucket, Key=f"wh/{uid}/{v1}/{MANIFEST}")["Body"]
    manifest = json.loads(body.read())
    assert manifest["data_uid"] == v1
    assert manifest["files"] == [
        {"name": "part-00000.parquet", "size": warehouse.filesystem.get_file_info(part).size}
    ]

    v2 = published(client, uid)
    listed = client.get(f"{API}/datasets/{uid}/versions/").json()["results"]
    assert [(v["uid"], v["can_restore"]) for v in listed] == [(v2, False), (v1, True)]
    assert client.post(f"{API}/datasets/{uid}/versions/{v1}/restore/").status_code == 200
    restored = client.get(f"{API}/datasets/{uid}/status/").json()["version_uid"]
    assert restored not in (v1, v2)  # a new version pointing at v1's files: no new prefix
    assert {k.split("/")[2] for k in keys(moto_server, wh_bucket)} == {v1, v2}

    # A version whose files are gone is not restorable.
    for name in (MANIFEST, "part-00000.parquet"):
        moto_server.boto3_client().delete_object(Bucket=wh_bucket, Key=f"wh/{uid}/{v2}/{name}")
    refused = client.post(f"{API}/datasets/{uid}/versions/{v2}/restore/")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "version_not_restorable")

    assert client.delete(f"{API}/datasets/{uid}/").status_code == 204
    assert keys(moto_server, wh_bucket) == []


def test_retention_deletes_the_prefixes_of_pruned_versions(
    tmp_path: Path, moto_server: MotoServer, wh_bucket: str, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("c.csv", CSV)
    with make_app_client(
        warehouse_settings(tmp_path / "home", moto_server, wh_bucket, versions_keep=1)
    ) as client:
        connection = {"uid": create_connection(client, moto_server)}
        uid = create_dataset(client, "kept", s3_bucket.url("c.csv"), connection=connection)
        published(client, uid)
        v2 = published(client, uid)
        deadline = time.monotonic() + 5  # the pruned files go right after the publish's commit
        while len(keys(moto_server, wh_bucket)) > 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert keys(moto_server, wh_bucket) == [
            f"wh/{uid}/{v2}/{MANIFEST}",
            f"wh/{uid}/{v2}/part-00000.parquet",
        ]


def test_a_failed_publish_keeps_the_previous_version_and_leaves_no_prefix(
    tmp_path: Path, moto_server: MotoServer, wh_bucket: str, s3_bucket: S3Bucket
) -> None:
    """The cap comes from the database's sizes: the second version would cross it, fails after part of
    its file reached the bucket, and its prefix goes; the sweep then finds nothing to remove."""
    home = tmp_path / "home"
    s3_bucket.put("c.csv", CSV)
    with make_app_client(warehouse_settings(home, moto_server, wh_bucket)) as client:
        uid = create_dataset(
            client,
            "capped",
            s3_bucket.url("c.csv"),
            connection={"uid": create_connection(client, moto_server)},
        )
        v1 = published(client, uid)
        size = client.get(f"{API}/datasets/{uid}/versions/").json()["results"][0]["size_bytes"]
    capped = warehouse_settings(home, moto_server, wh_bucket, warehouse_max_bytes=size + size // 2)
    with make_app_client(capped) as client:
        status = publish(client, uid)
        assert status["status"] == "error" and "[warehouse_full]" in status["message"], status
        assert client.get(f"{API}/datasets/{uid}/status/").json()["version_uid"] == v1
        assert keys(moto_server, wh_bucket) == [
            f"wh/{uid}/{v1}/{MANIFEST}",
            f"wh/{uid}/{v1}/part-00000.parquet",
        ]
        swept = runtime(client).sweep_warehouse()
        assert (swept.removed, swept.uploads_aborted) == ([], 0)
        assert len(keys(moto_server, wh_bucket)) == 2


def test_sweep_removes_unreferenced_prefixes_and_stale_uploads(
    tmp_path: Path, moto_server: MotoServer, wh_bucket: str, s3_bucket: S3Bucket
) -> None:
    settings = warehouse_settings(tmp_path / "home", moto_server, wh_bucket, warehouse_multipart_max_age=0.5)
    s3 = moto_server.boto3_client()
    s3_bucket.put("c.csv", CSV)
    with make_app_client(settings) as client:
        uid = create_dataset(
            client,
            "swept",
            s3_bucket.url("c.csv"),
            connection={"uid": create_connection(client, moto_server)},
        )
        v1 = published(client, uid)
        # What killed processes leave: a version never committed, a dataset whose row is gone, an
        # unfinished multipart upload; and an upload of a dataset whose publish is queued (left alone).
        s3.put_object(Bucket=wh_bucket, Key=f"wh/{uid}/ch_killed/part-00000.parquet", Body=b"x" * 100)
        s3.put_object(Bucket=wh_bucket, Key="wh/da_gone/ch_x/part-00000.parquet", Body=b"y" * 7)
        stale = s3.create_multipart_upload(Bucket=wh_bucket, Key=f"wh/{uid}/ch_dead/part-00000.parquet")
        live_uid = create_dataset(
            client, "live", s3_bucket.url("c.csv"), connection={"uid": create_connection(client, moto_server)}
        )
        live = s3.create_multipart_upload(Bucket=wh_bucket, Key=f"wh/{live_uid}/ch_run/part-00000.parquet")
        s3.put_object(Bucket=wh_bucket, Key=f"wh/{live_uid}/ch_run/_partial", Body=b"z")
        app = runtime(client)
        with app.database.session() as session:
            from datawharf.store.models.datasets import Dataset

            row = session.get(Dataset, live_uid)
            assert row is not None
            row.status = "processing"
        time.sleep(1.1)  # older than warehouse_multipart_max_age (S3 reports whole seconds)
        swept = app.sweep_warehouse()
        assert sorted(map(str, swept.removed)) == sorted(
            [f"{wh_bucket}/wh/{uid}/ch_killed", f"{wh_bucket}/wh/da_gone"]
        )
        assert (swept.bytes, swept.uploads_aborted) == (107, 1)
        assert keys(moto_server, wh_bucket) == sorted(
            [
                f"wh/{uid}/{v1}/{MANIFEST}",
                f"wh/{uid}/{v1}/part-00000.parquet",
                f"wh/{live_uid}/ch_run/_partial",
            ]
        )
        uploads = s3.list_multipart_uploads(Bucket=wh_bucket).get("Uploads", [])
        assert [u["UploadId"] for u in uploads] == [live["UploadId"]]
        assert stale["UploadId"] not in str(uploads)


def test_a_database_that_knows_no_dataset_removes_nothing(
    tmp_path: Path, moto_server: MotoServer, wh_bucket: str
) -> None:
    moto_server.put_object(wh_bucket, "wh/da_other/ch_1/part-00000.parquet", b"x")
    with make_app_client(warehouse_settings(tmp_path / "home", moto_server, wh_bucket)) as client:
        assert runtime(client).sweep_warehouse().removed == []
    assert keys(moto_server, wh_bucket) == ["wh/da_other/ch_1/part-00000.parquet"]


def test_the_endpoint_follows_the_outbound_rules(
    tmp_path: Path, moto_server: MotoServer, wh_bucket: str
) -> None:
    closed = warehouse_settings(tmp_path / "home", moto_server, wh_bucket, allowed_private_hosts=[])
    with pytest.raises(InvalidInput) as refused:
        make_warehouse(closed)
    assert refused.value.error_code == "private_address_refused"
    assert moto_server.host_port in refused.value.message
    half = warehouse_settings(tmp_path / "home", moto_server, wh_bucket, warehouse_secret_access_key=None)
    with pytest.raises(InvalidInput) as missing:
        make_warehouse(half)
    assert missing.value.error_code == "warehouse_credentials_missing"
    with pytest.raises(ValidationError, match="not an S3 warehouse URL"):
        Settings(home=tmp_path, warehouse_url="https://bucket.example.com/wh")


def test_the_secret_key_is_never_logged_answered_or_in_an_error(
    tmp_path: Path,
    moto_server: MotoServer,
    iam_moto_server: IamMotoServer,
    s3_bucket: S3Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The warehouse on the IAM-enforcing server with a wrong secret: the start's sweep and the
    publish both fail, and the secret is in no log record, no answer, no status message."""
    user = iam_moto_server.create_user()
    bucket = iam_moto_server.create_bucket()
    settings = warehouse_settings(
        tmp_path / "home",
        iam_moto_server,
        bucket,
        allowed_private_hosts=[iam_moto_server.host_port, moto_server.host_port],
        warehouse_access_key_id=user.access_key_id,
    )
    assert SECRET not in repr(settings) and SECRET not in repr(make_warehouse(settings))
    s3_bucket.put("c.csv", CSV)
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG), make_app_client(settings) as client:
        uid = create_dataset(
            client,
            "denied",
            s3_bucket.url("c.csv"),
            connection={"uid": create_connection(client, moto_server)},
        )
        status = publish(client, uid)
        assert status["status"] == "error", status
        assert "SIGNATURE_DOES_NOT_MATCH" in status["message"]  # the wrong secret was really used
        seen.append(json.dumps(status))
        seen += [
            r.text
            for r in (client.get(f"{API}/datasets/{uid}/"), client.get(f"{API}/datasets/{uid}/versions/"))
        ]
        runtime(client).sweep_warehouse()
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.exc_info) for record in caplog.records if record.exc_info]
    assert "sweep of s3://" in "\n".join(seen)  # the sweep's failure was logged, scrubbed
    assert [text for text in seen if SECRET in text] == []


def test_without_keys_the_standard_aws_chain_is_used(
    tmp_path: Path, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No warehouse keys: the environment's AWS keys sign; with none anywhere (and the metadata service
    not allowed), the error says what to set."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    bucket = moto_server.create_bucket()
    chain = warehouse_settings(
        tmp_path / "home", moto_server, bucket, warehouse_access_key_id=None, warehouse_secret_access_key=None
    )
    with pytest.raises(InvalidInput) as missing:
        make_warehouse(chain)
    assert missing.value.error_code == "warehouse_credentials_missing"
    assert "DATAWHARF_AWS_INSTANCE_METADATA is off" in missing.value.message

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "chain-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    warehouse = make_warehouse(chain)
    with warehouse.filesystem.open_output_stream(f"{warehouse.version_path('da_a', 'ch_1')}/f") as out:
        out.write(b"signed by the chain's keys")
    assert keys(moto_server, bucket) == ["wh/da_a/ch_1/f"]
    assert warehouse.version_exists("da_a", "ch_1") and not warehouse.version_exists("da_a", "ch_2")
