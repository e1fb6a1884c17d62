"""The ranged reader against the real moto server: from a pasted URL to bytes, and a replaced object."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest
from botocore.credentials import RefreshableCredentials

from datawharf.errors import ConnectionProblem, DatawharfError
from datawharf.s3.client import S3Client, client_for, make_client
from datawharf.s3.credentials import static_credentials
from datawharf.s3.locations import parse_location
from datawharf.s3.reader import head_object, open_object, probe_object
from datawharf.settings import Settings
from tests.support.moto import IamMotoServer, S3Bucket, allow

MiB = 1024 * 1024
CREDS = static_credentials("testing", "testing")


def _csv(rows: int) -> bytes:
    return b"id,name,value\n" + b"".join(b"%d,name %d,%d.5\n" % (i, i, i * 7) for i in range(rows))


@pytest.mark.parametrize("key", ["plain.csv", "dir/with space.csv", "données/qualité+air 2024.csv"])
def test_from_pasted_url_to_bytes(s3_bucket: S3Bucket, settings: Settings, key: str) -> None:
    body = _csv(1000)
    etag = s3_bucket.put(key, body, ContentType="text/csv")
    location = parse_location(s3_bucket.url(key))
    assert (location.bucket, location.key) == (s3_bucket.name, key)
    with client_for(settings, location, credentials=CREDS) as client:
        info = head_object(client, location.bucket, location.key)
        assert (info.size, info.etag, info.content_type) == (len(body), etag, "text/csv")
        assert isinstance(info.last_modified, datetime)
        with open_object(client, location.bucket, location.key, info=info) as f:
            assert f.read() == body
            assert f.name == f"s3://{s3_bucket.name}/{key}"


def test_preview_of_a_big_object_reads_little(s3_bucket: S3Bucket, settings: Settings) -> None:
    body = _csv(400_000)  # ~9 MB
    s3_bucket.put("big.csv", body)
    with (
        make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client,
        open_object(client, s3_bucket.name, "big.csv") as f,
    ):
        assert f.size == len(body)
        lines = [f.readline() for _ in range(21)]
        assert lines[0] == b"id,name,value\n" and lines[20] == b"19,name 19,133.5\n"
        f.seek(-10, io.SEEK_END)
        assert f.read() == body[-10:]
        assert f.requests == 2
        assert f.bytes_fetched == 64 * 1024 + 10
        # a reader built on a file object works unchanged on it (how far it reads ahead is its choice,
        # so only the answer is asserted here; the costs of our own reads are asserted above)
        f.seek(0)
        options = pacsv.ReadOptions(block_size=64 * 1024, use_threads=False)
        batch = next(iter(pacsv.open_csv(f, read_options=options)))
        assert batch.column("id")[0].as_py() == 0
        assert batch.column("name")[1].as_py() == "name 1"


def test_probe_is_the_head_and_the_first_bytes_in_one_request(
    s3_bucket: S3Bucket, settings: Settings
) -> None:
    body = _csv(20_000)  # ~400 KB
    s3_bucket.put("probed.csv", body)
    s3_bucket.put("tiny.csv", b"a,b\n1,2\n")
    s3_bucket.put("empty.csv", b"")
    with make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client:
        info, head = probe_object(client, s3_bucket.name, "probed.csv")
        assert info == head_object(client, s3_bucket.name, "probed.csv")
        assert head == body[: 64 * 1024]
        with open_object(client, s3_bucket.name, "probed.csv", info=info, head=head) as f:
            assert [f.readline() for _ in range(2)] == body.splitlines(keepends=True)[:2]
            assert (f.requests, f.bytes_fetched) == (1, 64 * 1024)  # the probe's, nothing more
            f.seek(-10, io.SEEK_END)
            assert f.read() == body[-10:]  # pinned to the probe's ETag like any read
            assert f.requests == 2
        assert probe_object(client, s3_bucket.name, "tiny.csv")[1] == b"a,b\n1,2\n"
        empty, nothing = probe_object(client, s3_bucket.name, "empty.csv")
        assert (empty.size, nothing) == (0, b"")
        with pytest.raises(DatawharfError) as missing:
            probe_object(client, s3_bucket.name, "absent.csv")
        assert missing.value.error_code == "no_such_key"


def test_stream_reads_the_whole_object_in_parallel_ranges(s3_bucket: S3Bucket, settings: Settings) -> None:
    body = os.urandom(5 * MiB + 123)
    s3_bucket.put("blob.bin", body)
    with (
        make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client,
        open_object(
            client, s3_bucket.name, "blob.bin", access="stream", chunk_size=1 * MiB, concurrency=3
        ) as f,
    ):
        out = bytearray()
        while block := f.read(300_000):
            out += block
        assert bytes(out) == body
        assert f.requests == 6 and f.bytes_fetched == len(body)
        assert f.cache.peak_chunks <= 3


@pytest.mark.parametrize("access", ["preview", "stream"])
def test_object_replaced_mid_read_fails_loudly(s3_bucket: S3Bucket, settings: Settings, access: str) -> None:
    first = os.urandom(3 * MiB)
    s3_bucket.put("moving.bin", first)
    with (
        make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client,
        open_object(
            client, s3_bucket.name, "moving.bin", access=access, chunk_size=1 * MiB, concurrency=1
        ) as f,  # type: ignore[arg-type]
    ):
        assert f.read(1000) == first[:1000]
        s3_bucket.put("moving.bin", os.urandom(3 * MiB))  # a new version, same size
        f.seek(2 * MiB + 5)
        with pytest.raises(ConnectionProblem) as caught:
            f.read(100)
    assert caught.value.error_code == "object_changed"
    assert caught.value.detail["step"] == "object"
    assert "moving.bin" in caught.value.message
    assert caught.value.detail["http_status"] == 412  # the server refused If-Match: the old ETag


def test_reader_with_an_iam_user_key(iam_moto_server: IamMotoServer, iam_settings: Settings) -> None:
    bucket = iam_moto_server.create_bucket()
    body = _csv(5000)
    iam_moto_server.put_object(bucket, "open/data.csv", body)
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/open/*"]))
    location = parse_location("data.csv", base_url=f"{iam_moto_server.endpoint_url}/{bucket}/open/")
    credentials = static_credentials(*user.key)
    with (
        client_for(iam_settings, location, credentials=credentials) as client,
        open_object(client, location.bucket, location.key, access="stream", chunk_size=32 * 1024) as f,
    ):
        assert f.read() == body


def test_assumed_role_credentials_sign_every_request(
    iam_moto_server: IamMotoServer, iam_settings: Settings
) -> None:
    """The factory takes botocore RefreshableCredentials (what the IAM-role connections will pass)."""
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "k.csv", b"a\n1\n")
    platform = iam_moto_server.create_user(policy=allow(["sts:AssumeRole"], ["*"]))
    iam = iam_moto_server.boto3_client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": platform.arn}, "Action": "sts:AssumeRole"}],
    }
    role_name = f"reader-{bucket}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="read-one",
        PolicyDocument=json.dumps(allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/k.csv"])),
    )
    sts = iam_moto_server.boto3_client("sts", key=platform.key)
    issued: list[str] = []

    def assume() -> dict[str, str]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="datawharf-test")["Credentials"]
        issued.append(creds["AccessKeyId"])
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(assume(), assume, "assume-role")
    with make_client(
        iam_settings, endpoint_url=iam_moto_server.endpoint_url, credentials=credentials
    ) as client:
        with open_object(client, bucket, "k.csv") as f:
            assert f.read() == b"a\n1\n"
        with pytest.raises(ConnectionProblem) as caught:
            head_object(client, bucket, "not-allowed.csv")
    assert caught.value.error_code == "access_denied"
    assert len(issued) == 1 and issued[0].startswith("ASIA")


class _IgnoresIfMatch(BaseHTTPRequestHandler):
    """A server that ignores If-Match and serves another version on GET: the ETag check must catch it."""

    def log_message(self, *args: Any) -> None:
        pass

    def _headers(self, status: int, etag: str, length: int) -> None:
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT")

    def do_HEAD(self) -> None:
        self._headers(200, '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"', 10)
        self.end_headers()

    def do_GET(self) -> None:
        self._headers(206, '"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"', 10)
        self.send_header("Content-Range", "bytes 0-9/10")
        self.end_headers()
        self.wfile.write(b"0123456789")


@contextmanager
def _stub_client(handler: type[BaseHTTPRequestHandler], tmp_path: Path) -> Iterator[S3Client]:
    """A client of a misbehaving S3 stand-in served by ``handler`` on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        settings = Settings(home=tmp_path, allowed_private_hosts=[f"127.0.0.1:{port}"])
        with make_client(settings, endpoint_url=f"http://127.0.0.1:{port}", credentials=CREDS) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()


def test_changed_etag_is_caught_even_when_if_match_is_ignored(tmp_path: Path) -> None:
    with (
        _stub_client(_IgnoresIfMatch, tmp_path) as client,
        open_object(client, "bucket", "file.csv") as f,
        pytest.raises(ConnectionProblem) as caught,
    ):
        f.read(5)
    assert caught.value.error_code == "object_changed"


class _IgnoresRange(BaseHTTPRequestHandler):
    """A server that answers a ranged GET with the whole object (200, no Content-Range)."""

    body = bytes(range(256)) * 4096  # 1 MiB

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("ETag", '"cccccccccccccccccccccccccccccccc"')
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def test_probe_of_a_server_that_ignores_ranges_keeps_only_the_head(tmp_path: Path) -> None:
    with _stub_client(_IgnoresRange, tmp_path) as client:
        info, head = probe_object(client, "bucket", "whole.bin")
    assert info.size == len(_IgnoresRange.body) and info.etag == '"cccccccccccccccccccccccccccccccc"'
    assert head == _IgnoresRange.body[: 64 * 1024]


class _PartWithoutRange(_IgnoresRange):
    """A server that answers a ranged GET with the part but no Content-Range, and HEAD correctly."""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("ETag", '"cccccccccccccccccccccccccccccccc"')
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()

    def do_GET(self) -> None:
        first, last = (int(x) for x in self.headers["Range"].removeprefix("bytes=").split("-"))
        part = self.body[first : last + 1]
        self.send_response(206)
        self.send_header("ETag", '"cccccccccccccccccccccccccccccccc"')
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        self.wfile.write(part)


def test_probe_without_content_range_asks_the_size_with_a_head(tmp_path: Path) -> None:
    """A part's length is not the object's size: without Content-Range the probe falls back to HEAD."""
    with _stub_client(_PartWithoutRange, tmp_path) as client:
        info, head = probe_object(client, "bucket", "part.bin")
    assert info.size == len(_PartWithoutRange.body)
    assert head == _PartWithoutRange.body[: 64 * 1024]
