"""Amazon S3 connections signed with AWS signature v4, through the API, against the real moto_server."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datawharf.connections import usage
from tests.support.app import make_app_client, make_settings
from tests.support.moto import IamMotoServer, MotoServer, S3Bucket, allow

API = "/api/automation/v1.0/datasource_connections"
CSV = b"name,qty\napple,3\npear,5\n"


def sigv4(
    url: str, key_id: str = "testing", secret: str | None = "testing", region: str = "us-east-1"
) -> dict:
    auth: dict[str, Any] = {"type": "aws_signature_v4", "access_key_id": key_id, "region": region}
    if secret is not None:
        auth["secret_access_key"] = secret
    return {"type": "amazon_s3", "url": url, "auth": auth}


@pytest.fixture
def client(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allowed_private_hosts=[moto_server.host_port], s3_max_attempts=1)
    with make_app_client(settings) as app_client:
        yield app_client


@pytest.fixture
def iam_client(tmp_path: Path, iam_moto_server: IamMotoServer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allowed_private_hosts=[iam_moto_server.host_port], s3_max_attempts=1)
    with make_app_client(settings) as app_client:
        yield app_client


def steps(body: dict) -> dict[str, tuple[bool | None, str | None]]:
    return {step["name"]: (step["ok"], step["error_code"]) for step in body["validation"]["steps"]}


def test_create_validates_an_object_and_never_returns_the_secret(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("dir/fruits.csv", CSV)
    body = sigv4(s3_bucket.url("dir/fruits.csv"), secret="create-secret-1")
    body["headers"] = [{"name": "x-amz-meta-team", "value": "header-secret-1"}]
    body["title"] = "Fruits bucket"
    response = client.post(f"{API}/", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["uid"].startswith("co_")
    assert created["type"] == "amazon_s3"
    assert created["title"] == "Fruits bucket"
    assert created["auth"] == {
        "type": "aws_signature_v4",
        "access_key_id": "testing",
        "secret_access_key": None,
        "region": "us-east-1",
    }
    assert created["headers"] == [{"name": "x-amz-meta-team", "value": None}]
    assert created["is_reusable"] is True and created["dataset_count"] == 0
    assert created["url"] == s3_bucket.url("dir/fruits.csv")
    assert created["validation"]["is_valid"] is True
    assert steps(created) == {
        "endpoint": (True, None),
        "authentication": (True, None),
        "bucket": (True, None),
        "object": (True, None),
    }
    object_step = created["validation"]["steps"][3]
    assert object_step["message"] == f"The object dir/fruits.csv is readable ({len(CSV)} bytes)."
    assert "create-secret-1" not in response.text and "header-secret-1" not in response.text

    fetched = client.get(f"{API}/{created['uid']}/").json()
    assert fetched == created
    listed = client.get(f"{API}/").json()
    assert listed["total_count"] == 1 and listed["results"] == [created]


def test_bucket_prefix_and_endpoint_urls_are_checked_with_a_listing(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("data/a.csv", CSV)
    bucket = client.post(f"{API}/", json=sigv4(s3_bucket.url())).json()
    assert steps(bucket)["bucket"] == (True, None)
    assert steps(bucket)["object"] == (None, None)
    prefix = client.post(f"{API}/", json=sigv4(s3_bucket.url("data/"))).json()
    assert steps(prefix)["object"] == (True, None)
    empty_prefix = client.post(f"{API}/", json=sigv4(s3_bucket.url("nothing-here/"))).json()
    assert steps(empty_prefix)["object"] == (False, "no_such_key")
    endpoint = client.post(f"{API}/", json=sigv4(s3_bucket.server.endpoint_url)).json()
    assert endpoint["validation"]["is_valid"] is True
    assert steps(endpoint)["authentication"] == (True, None)
    assert steps(endpoint)["bucket"] == (None, None)


def test_missing_bucket_and_key_are_saved_invalid_with_their_report(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    no_key = client.post(f"{API}/", json=sigv4(s3_bucket.url("missing.csv")))
    assert no_key.status_code == 201
    assert no_key.json()["validation"]["is_valid"] is False
    assert steps(no_key.json()) == {
        "endpoint": (True, None),
        "authentication": (True, None),
        "bucket": (True, None),
        "object": (False, "no_such_key"),
    }
    no_bucket_url = f"{s3_bucket.server.endpoint_url}/no-such-bucket-{uuid.uuid4().hex[:8]}/file.csv"
    no_bucket = client.post(f"{API}/", json=sigv4(no_bucket_url)).json()
    assert steps(no_bucket)["bucket"] == (False, "no_such_bucket")
    assert steps(no_bucket)["object"] == (None, None)
    message = no_bucket["validation"]["steps"][2]["message"]
    assert "does not exist" in message and "no-such-bucket-" in message
    # the last report stays visible
    assert client.get(f"{API}/{no_bucket['uid']}/").json()["validation"] == no_bucket["validation"]


def test_unreachable_endpoint_is_reported_at_the_endpoint_step(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, allowed_private_hosts=[dead], s3_max_attempts=1, s3_connect_timeout=2)
    with make_app_client(settings) as client:
        created = client.post(f"{API}/", json=sigv4(f"http://{dead}/bucket/file.csv")).json()
    assert steps(created)["endpoint"] == (False, "endpoint_unreachable")
    assert steps(created)["authentication"] == (None, None)


def test_update_keeps_the_secret_and_validate_on_demand(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("a.csv", CSV)
    s3_bucket.put("b.csv", CSV)
    created = client.post(f"{API}/", json=sigv4(s3_bucket.url("a.csv"))).json()
    update = sigv4(s3_bucket.url(), secret=None)
    update["is_reusable"] = False
    updated = client.put(f"{API}/{created['uid']}/", json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["is_reusable"] is False
    assert updated.json()["url"] == s3_bucket.url()
    assert updated.json()["validation"]["is_valid"] is True
    assert updated.json()["updated_at"] >= created["updated_at"]
    checked = client.post(f"{API}/{created['uid']}/validate/", params={"url": "a.csv"})
    assert checked.status_code == 200
    assert checked.json()["validation"]["steps"][3]["message"].startswith("The object a.csv is readable")
    missing = client.post(f"{API}/{created['uid']}/validate/", params={"url": "zzz.csv"}).json()
    assert steps(missing)["object"] == (False, "no_such_key")


def test_delete_and_refusal_while_a_dataset_uses_the_connection(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    created = client.post(f"{API}/", json=sigv4(s3_bucket.url())).json()
    uid = created["uid"]

    def in_use(_session: Any, connection_uid: str) -> set[str]:
        return {"da_test"} if connection_uid == uid else set()

    usage.register_usage_counter(in_use)
    try:
        assert client.get(f"{API}/{uid}/").json()["dataset_count"] == 1
        refused = client.delete(f"{API}/{uid}/")
        assert refused.status_code == 409
        assert refused.json()["error_code"] == "connection_in_use"
        assert "used by 1 dataset" in refused.json()["message"]
    finally:
        usage._COUNTERS.remove(in_use)
    assert client.delete(f"{API}/{uid}/").status_code == 204
    gone = client.get(f"{API}/{uid}/")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "connection_not_found")


BAD_INPUT = [
    ("malformed url", {"url": "https://"}, "malformed_url"),
    ("not s3", {"url": "https://console.aws.amazon.com/s3/buckets/b"}, "not_an_s3_url"),
    ("aws but not s3", {"url": "https://www.amazonaws.com/b/f.csv"}, "not_an_s3_url"),
    ("not s3 scheme", {"url": "ftp://example.com/file.csv"}, "not_an_s3_url"),
    (
        "unknown region",
        {"auth.region": "eu-wst-3", "url": "https://b1.s3.amazonaws.com/f.csv"},
        "unknown_region",
    ),
    ("region mismatch", {"url": "https://b1.s3.eu-west-3.amazonaws.com/f.csv"}, "region_mismatch"),
    ("empty key id", {"auth.access_key_id": "  "}, "empty_access_key_id"),
    ("empty secret", {"auth.secret_access_key": ""}, "empty_secret_access_key"),
    ("no secret", {"auth.secret_access_key": None}, "empty_secret_access_key"),
    (
        "newline header",
        {"headers": [{"name": "x-amz-meta-a", "value": "a\r\nInjected: 1"}]},
        "invalid_header",
    ),
    ("bad header name", {"headers": [{"name": "bad header", "value": "v"}]}, "invalid_header"),
    ("metadata service", {"url": "http://169.254.169.254/latest/meta-data"}, "private_address_refused"),
    ("loopback not allowed", {"url": "http://127.0.0.1:9/bucket/key"}, "private_address_refused"),
    ("no url", {"url": None}, "missing_url"),
]


@pytest.mark.parametrize(("case", "change", "code"), BAD_INPUT, ids=[case for case, _c, _e in BAD_INPUT])
def test_bad_input_is_a_400_with_a_specific_code_and_saves_nothing(
    client: TestClient, s3_bucket: S3Bucket, case: str, change: dict, code: str
) -> None:
    body = sigv4(s3_bucket.url())
    for path, value in change.items():
        target = body
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    response = client.post(f"{API}/", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == code
    assert response.json()["message"]
    assert client.get(f"{API}/").json()["total_count"] == 0


def test_bad_update_changes_nothing_and_huge_body_is_refused(client: TestClient, s3_bucket: S3Bucket) -> None:
    created = client.post(f"{API}/", json=sigv4(s3_bucket.url())).json()
    bad = sigv4("http://169.254.169.254/latest/")
    refused = client.put(f"{API}/{created['uid']}/", json=bad)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "private_address_refused")
    assert client.get(f"{API}/{created['uid']}/").json() == created
    huge = client.post(
        f"{API}/",
        content=b'{"url": "' + b"a" * (10 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert (huge.status_code, huge.json()["error_code"]) == (400, "request_body_too_large")


def test_list_paginates_and_sorts(client: TestClient, s3_bucket: S3Bucket) -> None:
    uids = [client.post(f"{API}/", json=sigv4(s3_bucket.url())).json()["uid"] for _ in range(3)]
    page = client.get(f"{API}/", params={"limit": 2, "sort": "created_at"}).json()
    assert page["total_count"] == 3 and [c["uid"] for c in page["results"]] == uids[:2]
    assert page["next"] is not None and page["previous"] is None
    reverse = client.get(f"{API}/", params={"sort": "-created_at"}).json()
    assert [c["uid"] for c in reverse["results"]] == uids[::-1]
    bad = client.get(f"{API}/", params={"sort": "secret"})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "invalid_sort")


# --- against the IAM-enforced server -----------------------------------------------------------------


@pytest.fixture
def iam_object(iam_moto_server: IamMotoServer) -> tuple[str, str]:
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "fruits.csv", CSV)
    return bucket, f"{iam_moto_server.endpoint_url}/{bucket}/fruits.csv"


def test_iam_enforced_authentication_errors(
    iam_client: TestClient, iam_moto_server: IamMotoServer, iam_object: tuple[str, str]
) -> None:
    _bucket, url = iam_object
    reader = iam_moto_server.create_user(policy=allow(["s3:GetObject", "s3:ListBucket"], ["*"]))
    stranger = iam_moto_server.create_user(policy=allow(["s3:ListAllMyBuckets"], ["*"]))

    right = iam_client.post(f"{API}/", json=sigv4(url, reader.access_key_id, reader.secret_access_key)).json()
    assert right["validation"]["is_valid"] is True, right["validation"]

    unknown = iam_client.post(f"{API}/", json=sigv4(url, "AKIAUNKNOWNKEY000000", "whatever-secret")).json()
    assert steps(unknown)["authentication"] == (False, "unknown_access_key")
    assert steps(unknown)["endpoint"] == (True, None)

    wrong = iam_client.post(f"{API}/", json=sigv4(url, reader.access_key_id, "wrong-secret-value")).json()
    assert steps(wrong)["authentication"] == (False, "bad_signature")
    assert "secret access key does not match" in wrong["validation"]["steps"][1]["message"]

    denied = iam_client.post(
        f"{API}/", json=sigv4(url, stranger.access_key_id, stranger.secret_access_key)
    ).json()
    assert steps(denied)["object"] == (False, "access_denied")
    assert steps(denied)["authentication"] == (True, None)


def test_rotating_the_secret_and_a_wrong_secret(
    iam_client: TestClient, iam_moto_server: IamMotoServer, iam_object: tuple[str, str]
) -> None:
    _bucket, url = iam_object
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], ["*"]))
    created = iam_client.post(f"{API}/", json=sigv4(url, user.access_key_id, user.secret_access_key)).json()
    assert created["validation"]["is_valid"] is True
    # rotate: a new key for the same user, PUT with the new secret
    iam = iam_moto_server.boto3_client("iam")
    new_key = iam.create_access_key(UserName=user.name)["AccessKey"]
    rotated = iam_client.put(
        f"{API}/{created['uid']}/", json=sigv4(url, new_key["AccessKeyId"], new_key["SecretAccessKey"])
    ).json()
    assert rotated["validation"]["is_valid"] is True
    assert rotated["auth"]["access_key_id"] == new_key["AccessKeyId"]
    # PUT without the secret keeps the rotated one
    kept = iam_client.put(f"{API}/{created['uid']}/", json=sigv4(url, new_key["AccessKeyId"], None)).json()
    assert kept["validation"]["is_valid"] is True
    # a wrong secret is saved, invalid, with a clear report
    wrong = iam_client.put(
        f"{API}/{created['uid']}/", json=sigv4(url, new_key["AccessKeyId"], "not-the-secret")
    )
    assert wrong.status_code == 200
    assert wrong.json()["validation"]["is_valid"] is False
    assert steps(wrong.json())["authentication"] == (False, "bad_signature")
    revalidated = iam_client.post(f"{API}/{created['uid']}/validate/").json()
    assert steps(revalidated)["authentication"] == (False, "bad_signature")


def test_secrets_reach_no_log_no_response_and_no_byte_of_the_database(
    tmp_path: Path,
    iam_moto_server: IamMotoServer,
    iam_object: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _bucket, url = iam_object
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], ["*"]))
    header_secret = f"hdr-{uuid.uuid4().hex}"
    wrong_secret = f"wrong-{uuid.uuid4().hex}"
    secrets = [user.secret_access_key, header_secret, wrong_secret]
    home = tmp_path / "home"
    settings = make_settings(home, allowed_private_hosts=[iam_moto_server.host_port], s3_max_attempts=1)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with make_app_client(settings) as client:
        body = sigv4(url, user.access_key_id, user.secret_access_key)
        body["headers"] = [{"name": "x-amz-meta-note", "value": header_secret}]
        created = client.post(f"{API}/", json=body)
        texts.append(created.text)
        uid = created.json()["uid"]
        assert created.json()["validation"]["is_valid"] is True
        for call in (
            lambda: client.get(f"{API}/"),
            lambda: client.get(f"{API}/{uid}/"),
            lambda: client.post(f"{API}/{uid}/validate/"),
            lambda: client.put(f"{API}/{uid}/", json=sigv4(url, user.access_key_id, wrong_secret)),
            lambda: client.post(f"{API}/{uid}/validate/"),
            lambda: client.post(f"{API}/", json={**sigv4(url, "  ", wrong_secret)}),
        ):
            texts.append(call().text)
    files = [path for path in home.rglob("*") if path.is_file() and path.name.startswith("datawharf.db")]
    assert files
    database_bytes = b"".join(path.read_bytes() for path in files)
    for secret in secrets:
        assert secret.encode() not in database_bytes
        assert all(secret not in text for text in texts)
        assert secret not in caplog.text
    assert "botocore" in caplog.text  # the logs were captured at DEBUG, and still hold no secret


def test_put_replaces_the_connection_and_get_modify_put_loses_nothing(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    """The reference's PUT takes the whole Connection (``type`` required): what is left out takes its
    default, so the README changes a connection by GET, modify, PUT, which keeps every other field."""
    s3_bucket.put("a.csv", CSV)
    body = {
        **sigv4(s3_bucket.url("a.csv"), secret="put-secret-1"),
        "title": "Fruits",
        "description": "The fruit inventory",
        "headers": [{"name": "x-amz-meta-team", "value": "put-header-1"}],
    }
    uid = client.post(f"{API}/", json=body).json()["uid"]
    untyped = {key: value for key, value in body.items() if key != "type"}
    refused = client.put(f"{API}/{uid}/", json=untyped)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "validation_error" and "type" in refused.json()["detail"]

    read = client.get(f"{API}/{uid}/").json()
    read["auth"]["region"] = "us-east-1"
    read["is_reusable"] = False
    put = client.put(f"{API}/{uid}/", json=read)
    assert put.status_code == 200, put.text
    after = put.json()
    assert (after["title"], after["description"], after["is_reusable"]) == (
        "Fruits",
        "The fruit inventory",
        False,
    )
    assert after["headers"] == [{"name": "x-amz-meta-team", "value": None}]
    assert after["validation"]["is_valid"] is True  # the stored secret and header value were kept

    replaced = client.put(f"{API}/{uid}/", json=sigv4(s3_bucket.url("a.csv"), secret=None)).json()
    assert replaced["title"] is None and replaced["headers"] == []  # a PUT is the whole connection


@pytest.mark.parametrize(
    ("url", "region", "refused"),
    [
        ("https://fruits-bucket.s3.amazonaws.com/a.csv", "us-east1", True),  # AWS: only AWS's regions
        ("https://fruits-bucket.s3.amazonaws.com/a.csv", "eu-west-33", True),
        ("{moto}", "us-east1", True),  # custom endpoint: AWS's us-east-1 with a hyphen off
        ("{moto}", "US East 1", "malformed_region"),  # not a region's form
        ("{moto}", "fr-par", False),  # a provider's own region
        ("{moto}", "us-east-1", False),
    ],
)
def test_a_region_typo_is_refused_on_create_and_update(
    client: TestClient, s3_bucket: S3Bucket, url: str, region: str, refused: bool | str
) -> None:
    target = url.format(moto=s3_bucket.url("a.csv"))
    created = client.post(f"{API}/", json=sigv4(target, region=region))
    if not refused:
        assert created.status_code == 201, created.text
        return
    assert created.status_code == 400, created.text
    code = refused if isinstance(refused, str) else "unknown_region"
    assert created.json()["error_code"] == code
    assert client.get(f"{API}/").json()["total_count"] == 0
    saved = client.post(f"{API}/", json=sigv4(s3_bucket.url("a.csv"))).json()["uid"]
    updated = client.put(f"{API}/{saved}/", json=sigv4(target, region=region))
    assert updated.status_code == 400 and updated.json()["error_code"] == code
    assert client.get(f"{API}/{saved}/").json()["auth"]["region"] == "us-east-1"
