"""The test S3 servers themselves: they start, hold data, and the IAM variant enforces keys."""

from __future__ import annotations

import urllib.request

import pytest
from botocore.exceptions import ClientError

from datawharf.settings import Settings
from tests.support.moto import IamMotoServer, MotoServer, S3Bucket, allow


def test_open_server_answers_on_loopback(moto_server: MotoServer) -> None:
    assert moto_server.endpoint_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(moto_server.endpoint_url + "/moto-api/", timeout=5) as response:
        assert response.status == 200


def test_bucket_fixture_holds_what_is_put(s3_bucket: S3Bucket) -> None:
    etag = s3_bucket.put("dir/a b+c.csv", b"x,y\n1,2\n")
    body = s3_bucket.server.boto3_client().get_object(Bucket=s3_bucket.name, Key="dir/a b+c.csv")
    assert body["Body"].read() == b"x,y\n1,2\n"
    assert body["ETag"] == etag
    assert s3_bucket.url("dir/a b+c.csv").endswith(f"/{s3_bucket.name}/dir/a%20b%2Bc.csv")


def test_settings_allow_only_the_test_server(settings: Settings, moto_server: MotoServer) -> None:
    assert settings.allowed_private_hosts == [moto_server.host_port]
    assert "home" in str(settings.home)


def test_iam_server_enforces_keys(iam_moto_server: IamMotoServer) -> None:
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "k", b"data")
    reader = iam_moto_server.create_user(policy=allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/k"]))
    assert reader.arn.endswith(f":user/{reader.name}")
    client = iam_moto_server.boto3_client(key=reader.key)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    with pytest.raises(ClientError) as caught:
        iam_moto_server.boto3_client(key=("AKIAIOSFODNN7EXAMPLE", "x" * 40)).get_object(
            Bucket=bucket, Key="k"
        )
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
