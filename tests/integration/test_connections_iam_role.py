"""Amazon S3 connections by IAM role, against the IAM-enforced moto server acting as STS too.

datawharf's own identity is an IAM user of that server (its keys in the standard AWS environment
variables, as the credential chain reads them), allowed ``sts:AssumeRole``. Each role's trust policy
is ONE Allow statement naming exactly that user with ``StringEquals sts:ExternalId``: the server
mishandles ``:root`` principals and multi-statement trust policies, and never expires tokens, so
refresh is tested by time (a refresh window longer than the credentials' life), not by rejection.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datawharf.apikeys import ADMIN_PERMISSIONS
from datawharf.connections import assumed_role, identity, service
from datawharf.datasets import locate
from datawharf.datasets.datasource import parse_datasource
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.support.app import make_app_client, make_settings
from tests.support.moto import IamMotoServer, IamUser, allow

API = "/api/automation/v1.0/datasource_connections"
CSV = b"name,qty\napple,3\npear,5\n"


@pytest.fixture
def platform(iam_moto_server: IamMotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> IamUser:
    """datawharf's own AWS identity, given through the standard credential chain (environment)."""
    user = iam_moto_server.create_user(policy=allow(["sts:AssumeRole", "sts:GetCallerIdentity"], ["*"]))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", user.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", user.secret_access_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return user


def iam_settings_for(server: IamMotoServer, home: Path) -> Settings:
    return make_settings(
        home,
        allowed_private_hosts=[server.host_port],
        sts_endpoint_url=server.endpoint_url,
        domain="mydomain",
        external_id_prefix="dw",
        s3_max_attempts=1,
    )


@pytest.fixture
def client(tmp_path: Path, iam_moto_server: IamMotoServer, platform: IamUser) -> Iterator[TestClient]:
    with make_app_client(iam_settings_for(iam_moto_server, tmp_path / "home")) as app_client:
        yield app_client


@pytest.fixture
def bucket(iam_moto_server: IamMotoServer) -> str:
    name = iam_moto_server.create_bucket()
    iam_moto_server.put_object(name, "data/fruits.csv", CSV)
    iam_moto_server.put_object(name, "data/secret.csv", CSV)
    return name


def make_role(server: IamMotoServer, trusted_arn: str, external_id: str, bucket: str, key: str) -> str:
    """A role trusting one principal with one external ID, allowed to read one object."""
    iam = server.boto3_client("iam")
    name = f"role-{uuid.uuid4().hex[:10]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": trusted_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/{key}"])
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-read", PolicyDocument=json.dumps(policy))
    return str(arn)


def create_iam(client: TestClient, url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "amazon_s3",
        "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""},
    }
    if url:
        body["url"] = url
    response = client.post(f"{API}/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def put_role(client: TestClient, connection: dict[str, Any], role_arn: str) -> Any:
    body = {**connection, "auth": {**connection["auth"], "role_arn": role_arn}}
    return client.put(f"{API}/{connection['uid']}/", json=body)


def steps(body: dict) -> dict[str, tuple[bool | None, str | None]]:
    return {step["name"]: (step["ok"], step["error_code"]) for step in body["validation"]["steps"]}


def test_create_is_invalid_with_account_external_id_and_trust_policy(
    client: TestClient, platform: IamUser, iam_moto_server: IamMotoServer
) -> None:
    created = create_iam(client)
    auth = created["auth"]
    account = platform.arn.split(":")[4]
    assert auth["type"] == "iam_role" and auth["region"] == "us-east-1" and auth["role_arn"] == ""
    assert auth["is_valid"] is False
    assert auth["ods_aws_account_id"] == account
    prefix, domain, rest = auth["external_id"].split("-", 2)
    assert (prefix, domain) == ("dw", "mydomain") and str(uuid.UUID(rest)) == rest
    assert auth["trust_policy"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": auth["external_id"]}},
            }
        ],
    }
    assert steps(created)["assume_role"] == (False, "role_arn_missing")
    assert created["validation"]["is_valid"] is False
    other = create_iam(client)
    assert other["auth"]["external_id"] != auth["external_id"]


def test_right_role_is_valid_and_the_object_is_read_with_temporary_credentials(
    client: TestClient, platform: IamUser, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    url = f"{iam_moto_server.endpoint_url}/{bucket}/data/fruits.csv"
    created = create_iam(client, url)
    external_id = created["auth"]["external_id"]
    role_arn = make_role(iam_moto_server, platform.arn, external_id, bucket, "data/fruits.csv")
    updated = put_role(client, created, role_arn)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["auth"]["is_valid"] is True and body["auth"]["role_arn"] == role_arn
    assert body["auth"]["external_id"] == external_id  # never changes
    assert body["validation"]["is_valid"] is True
    assert steps(body) == {
        "assume_role": (True, None),
        "endpoint": (True, None),
        "bucket": (True, None),
        "object": (True, None),
    }
    # a region change keeps the external ID too
    moved = client.put(
        f"{API}/{created['uid']}/", json={**body, "auth": {**body["auth"], "region": "us-east-1"}}
    )
    assert moved.json()["auth"]["external_id"] == external_id

    # the object is read through the assumed role's temporary credentials
    settings = iam_settings_for(iam_moto_server, Path(str(client.app.state.settings.home)))
    database = open_database(settings)
    try:
        with database.session() as session:
            datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": created["uid"]}}
            found = locate.resolve(
                session, settings, parse_datasource(datasource), permissions=ADMIN_PERMISSIONS
            )
            location = found.location
            with locate.probe(settings, found) as probed:
                info = probed.located
            with locate.client_of(settings, found) as client_:
                credentials = client_.raw._request_signer._credentials
                assert credentials.method == "assume-role" and credentials.token
                assert credentials.access_key != platform.access_key_id
                data = client_.raw.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        assert data == CSV and info.size == len(CSV)
    finally:
        database.dispose()


def test_role_trusting_another_external_id_is_not_assumable(
    client: TestClient, platform: IamUser, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    created = create_iam(client)
    role_arn = make_role(iam_moto_server, platform.arn, "dw-mydomain-someone-else", bucket, "data/fruits.csv")
    refused = put_role(client, created, role_arn)
    assert refused.status_code == 400
    error = refused.json()
    assert error["error_code"] == "role_not_assumable"
    assert error["message"].startswith(
        "datawharf AWS account is not authorized to assume the role identified by role_arn."
    )
    assert role_arn in error["message"] and created["auth"]["external_id"] in error["message"]
    after = client.get(f"{API}/{created['uid']}/").json()
    assert after["auth"]["role_arn"] == "" and after["auth"]["is_valid"] is False  # nothing saved


def test_identity_not_named_in_the_trust_policy_is_refused(
    client: TestClient, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    created = create_iam(client)
    somebody = iam_moto_server.create_user()
    role_arn = make_role(
        iam_moto_server, somebody.arn, created["auth"]["external_id"], bucket, "data/fruits.csv"
    )
    refused = put_role(client, created, role_arn)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "role_not_assumable")


def test_key_the_role_does_not_allow_is_access_denied_naming_the_role(
    client: TestClient, platform: IamUser, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    created = create_iam(client, f"{iam_moto_server.endpoint_url}/{bucket}/")
    role_arn = make_role(
        iam_moto_server, platform.arn, created["auth"]["external_id"], bucket, "data/fruits.csv"
    )
    assert put_role(client, created, role_arn).status_code == 200
    checked = client.post(f"{API}/{created['uid']}/validate/", params={"url": "data/secret.csv"}).json()
    assert steps(checked)["assume_role"] == (True, None)
    assert steps(checked)["object"] == (False, "access_denied")
    assert role_arn in checked["validation"]["steps"][3]["message"]
    allowed = client.post(f"{API}/{created['uid']}/validate/", params={"url": "data/fruits.csv"}).json()
    assert allowed["validation"]["is_valid"] is True


def test_malformed_arn_and_policy_documents(
    client: TestClient, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    created = create_iam(client, f"{iam_moto_server.endpoint_url}/{bucket}/")
    for bad in ("arn:aws:iam::12345:role/x", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:user/bob"):
        refused = put_role(client, created, bad)
        assert (refused.status_code, refused.json()["error_code"]) == (400, "malformed_role_arn"), bad

    obj = client.get(f"{API}/{created['uid']}/policy/", params={"url": "data/fruits.csv"}).json()
    assert obj["trust_policy"] == created["auth"]["trust_policy"]
    assert obj["permission_policy"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/data/fruits.csv",
            }
        ],
    }
    prefix = client.get(f"{API}/{created['uid']}/policy/", params={"url": "data/"}).json()
    assert prefix["permission_policy"]["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/data/*"},
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": ["data/", "data/*"]}},
        },
    ]


def test_without_own_credentials_creation_fails_clearly(
    tmp_path: Path, iam_moto_server: IamMotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with make_app_client(iam_settings_for(iam_moto_server, tmp_path / "home")) as client:
        response = client.post(
            f"{API}/",
            json={"type": "amazon_s3", "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""}},
        )
        assert response.status_code == 400
        assert response.json()["error_code"] == "datawharf_credentials_missing"
        assert "AWS_ACCESS_KEY_ID" in response.json()["message"]
        assert client.get(f"{API}/").json()["total_count"] == 0
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
        invalid = client.post(
            f"{API}/",
            json={"type": "amazon_s3", "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""}},
        )
        assert invalid.json()["error_code"] == "datawharf_credentials_invalid"
    unreachable = iam_settings_for(iam_moto_server, tmp_path / "home2").model_copy(
        update={"sts_endpoint_url": "http://127.0.0.1:9", "s3_connect_timeout": 1.0}
    )
    with pytest.raises(Exception) as error:
        identity.own_identity(unreachable)
    assert getattr(error.value, "error_code", None) == "sts_unreachable"


def test_credentials_are_refreshed_with_a_new_assume_role_call(
    tmp_path: Path, platform: IamUser, iam_moto_server: IamMotoServer, bucket: str
) -> None:
    settings = iam_settings_for(iam_moto_server, tmp_path / "home")
    database = open_database(settings)
    try:
        with database.session() as session:
            from datawharf.connections.schemas import ConnectionCreate

            data = ConnectionCreate.model_validate(
                {"type": "amazon_s3", "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""}}
            )
            connection = service.create_connection(session, settings, data)
            role_arn = make_role(
                iam_moto_server, platform.arn, connection.external_id, bucket, "data/fruits.csv"
            )
        # a refresh window longer than the credentials' life: every use after a second must refresh
        life = assumed_role.DURATION_SECONDS
        credentials = assumed_role.role_credentials(
            settings,
            uid=f"{connection.uid}-refresh",
            role_arn=role_arn,
            external_id=connection.external_id or "",
            advisory_refresh_seconds=life - 1,
            mandatory_refresh_seconds=life - 1,
        )
        first = credentials.get_frozen_credentials()
        time.sleep(1.5)
        second = credentials.get_frozen_credentials()
        assert second.access_key != first.access_key and second.token != first.token
        assert credentials.method == "assume-role"
    finally:
        assumed_role.forget(f"{connection.uid}-refresh")
        database.dispose()
