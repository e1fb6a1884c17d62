"""Backoffice connection forms through the real app (no browser): refusals are pages, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0/datasource_connections/"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def signed_in(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allowed_private_hosts=[moto_server.host_port], s3_max_attempts=1)
    with make_app_client(settings) as client:
        token = csrf_of(client.get("/backoffice/sign-in").text)
        client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
        yield client


def test_an_edit_the_input_model_refuses_is_shown_on_the_form(
    signed_in: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("a.csv", b"a\n1\n")
    auth = {
        "type": "aws_signature_v4",
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "s",
        "region": "us-east-1",
    }
    uid = signed_in.post(API, json={"url": s3_bucket.url("a.csv"), "auth": auth}).json()["uid"]
    form = signed_in.get(f"/backoffice/connections/{uid}/edit")
    edited = signed_in.post(
        f"/backoffice/connections/{uid}/edit",
        data={
            "csrf_token": csrf_of(form.text),
            "title": "t" * 501,
            "url": s3_bucket.url("a.csv"),
            "region": "us-east-1",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "web-secret-typed-0123",
        },
    )
    assert edited.status_code == 400
    assert "Invalid input in title: String should have at most 500 characters" in edited.text
    assert "web-secret-typed-0123" not in edited.text
    assert signed_in.get(f"{API}{uid}/").json()["title"] is None
