"""The client factory against real servers: moto with IAM enforced, and small loopback HTTP servers
standing in for S3 behaviours moto lacks (a header recorder, a wrong-region answer, a silent server)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from datawharf.errors import ConnectionProblem, InvalidInput, UpstreamUnavailable
from datawharf.s3.client import make_client
from datawharf.s3.credentials import static_credentials
from datawharf.s3.errors import translated
from datawharf.s3.reader import head_bucket, head_object
from datawharf.settings import Settings
from tests.support.moto import IamMotoServer, MotoServer, S3Bucket, allow

# --- authentication, through the IAM-enforcing server ------------------------------------------------


@pytest.fixture(scope="module")
def protected_object(iam_moto_server: IamMotoServer) -> tuple[str, str]:
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "data/file.csv", b"a,b\n1,2\n")
    iam_moto_server.put_object(bucket, "other.csv", b"x\n")
    return bucket, "data/file.csv"


def _client(server: MotoServer, settings: Settings, key: tuple[str, str]) -> Any:
    return make_client(settings, endpoint_url=server.endpoint_url, credentials=static_credentials(*key))


def test_right_key_reads(
    iam_moto_server: IamMotoServer, iam_settings: Settings, protected_object: tuple[str, str]
) -> None:
    bucket, key = protected_object
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/{key}"]))
    with _client(iam_moto_server, iam_settings, user.key) as client:
        info = head_object(client, bucket, key)
    assert info.size == 8
    assert info.etag.startswith('"') and len(info.etag) == 34


@pytest.mark.parametrize("operation", ["head", "get"])
def test_unknown_access_key(
    iam_moto_server: IamMotoServer, iam_settings: Settings, protected_object: tuple[str, str], operation: str
) -> None:
    bucket, key = protected_object
    with (
        _client(iam_moto_server, iam_settings, ("AKIAIOSFODNN7EXAMPLE", "s" * 40)) as client,
        pytest.raises(ConnectionProblem) as caught,
    ):
        _read(client, bucket, key, operation)
    assert caught.value.error_code == "unknown_access_key"
    assert caught.value.detail["step"] == "authentication"
    assert caught.value.detail["request_id"]


@pytest.mark.parametrize("operation", ["head", "get"])
def test_wrong_secret_is_a_bad_signature(
    iam_moto_server: IamMotoServer, iam_settings: Settings, protected_object: tuple[str, str], operation: str
) -> None:
    bucket, key = protected_object
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/*"]))
    wrong_secret = "W" * len(user.secret_access_key)
    with (
        _client(iam_moto_server, iam_settings, (user.access_key_id, wrong_secret)) as client,
        pytest.raises(ConnectionProblem) as caught,
    ):
        _read(client, bucket, key, operation)
    assert caught.value.error_code == "bad_signature"
    assert wrong_secret not in caught.value.message
    assert user.secret_access_key not in str(caught.value.to_body())


@pytest.mark.parametrize("operation", ["head", "get", "list"])
def test_key_without_permission_is_access_denied(
    iam_moto_server: IamMotoServer, iam_settings: Settings, protected_object: tuple[str, str], operation: str
) -> None:
    bucket, key = protected_object
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/other.csv"]))
    with _client(iam_moto_server, iam_settings, user.key) as client:
        assert head_object(client, bucket, "other.csv").size == 2  # the allowed key works
        with pytest.raises(ConnectionProblem) as caught:
            _read(client, bucket, key, operation)
    assert caught.value.error_code == "access_denied"
    assert caught.value.detail["step"] == ("bucket" if operation == "list" else "object")


def _read(client: Any, bucket: str, key: str, operation: str) -> None:
    if operation == "head":
        head_object(client, bucket, key)
    elif operation == "list":
        head_bucket(client, bucket)
    else:
        with translated(client.where(bucket, key)):
            client.raw.get_object(Bucket=bucket, Key=key)["Body"].read()


# --- missing things, through the open server ----------------------------------------------------------


def test_missing_key_and_bucket(s3_bucket: S3Bucket, settings: Settings) -> None:
    s3_bucket.put("present.csv", b"x")
    with make_client(
        settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=static_credentials("a", "b")
    ) as c:
        with pytest.raises(ConnectionProblem) as no_key:
            head_object(c, s3_bucket.name, "absent.csv")
        with pytest.raises(ConnectionProblem) as no_bucket:
            head_object(c, "no-such-bucket-here", "absent.csv")
        with pytest.raises(ConnectionProblem) as no_bucket_list:
            head_bucket(c, "no-such-bucket-here")
        head_bucket(c, s3_bucket.name)
    assert (no_key.value.error_code, no_key.value.detail["step"]) == ("no_such_key", "object")
    assert "absent.csv" in no_key.value.message
    assert (no_bucket.value.error_code, no_bucket.value.detail["step"]) == ("no_such_bucket", "bucket")
    assert no_bucket_list.value.error_code == "no_such_bucket"


def test_anonymous_client_sends_no_signature(moto_server: MotoServer, settings: Settings) -> None:
    # A public-read object: an unsigned request goes out and is served.
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "public.csv", b"open data", ACL="public-read")
    with make_client(settings, endpoint_url=moto_server.endpoint_url, credentials=None) as client:
        assert head_object(client, bucket, "public.csv").size == 9


def test_clients_sign_with_their_own_keys_never_the_environments(
    moto_server: MotoServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients with static keys share one botocore session (a new one costs 15 ms): each still signs
    with exactly its own keys, an anonymous one with none, and the environment's keys are never read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    endpoint = moto_server.endpoint_url
    first = make_client(settings, endpoint_url=endpoint, credentials=static_credentials("AKIAFIRST", "s1"))
    second = make_client(
        settings, endpoint_url=endpoint, credentials=static_credentials("AKIASECOND", "s2", "token2")
    )
    anonymous = make_client(settings, endpoint_url=endpoint, credentials=None)
    try:
        signed = [c.raw._request_signer._credentials.get_frozen_credentials() for c in (first, second)]
        assert [(k.access_key, k.secret_key, k.token) for k in signed] == [
            ("AKIAFIRST", "s1", None),
            ("AKIASECOND", "s2", "token2"),
        ]
        assert anonymous.raw._request_signer._credentials is None
    finally:
        for client in (first, second, anonymous):
            client.close()


# --- outbound safety --------------------------------------------------------------------------------


def test_private_address_refused_then_allowed(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    s3_bucket.put("k.csv", b"abc")
    creds = static_credentials("a", "b")
    endpoint = s3_bucket.server.endpoint_url
    with (
        make_client(Settings(home=tmp_path), endpoint_url=endpoint, credentials=creds) as client,
        pytest.raises(InvalidInput) as caught,
    ):
        head_object(client, s3_bucket.name, "k.csv")
    assert caught.value.error_code == "private_address_refused"
    assert s3_bucket.server.host_port in caught.value.message
    assert "DATAWHARF_ALLOWED_PRIVATE_HOSTS" in caught.value.message
    allowed = Settings(home=tmp_path, allowed_private_hosts=[s3_bucket.server.host_port])
    with make_client(allowed, endpoint_url=endpoint, credentials=creds) as client:
        assert head_object(client, s3_bucket.name, "k.csv").size == 3


# --- loopback stand-ins -----------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Answers HEAD like S3 and records each request's headers; other behaviours by path."""

    seen: list[dict[str, str]]

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def do_HEAD(self) -> None:
        self.server.seen.append(dict(self.headers.items()))  # type: ignore[attr-defined]
        if self.path.startswith("/elsewhere/"):
            self.send_response(301)
            self.send_header("x-amz-bucket-region", "eu-central-1")
            self.send_header("x-amz-request-id", "RID1")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        self.send_header("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT")
        self.end_headers()

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers.items()))  # type: ignore[attr-defined]
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code>'
            b"<Message>the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message>"
            b"<Region>eu-central-1</Region><RequestId>RID2</RequestId></Error>"
        )
        self.send_response(400)
        self.send_header("x-amz-request-id", "RID2")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _allowed(tmp_path: Path, port: int, **extra: Any) -> Settings:
    return Settings(home=tmp_path, allowed_private_hosts=[f"127.0.0.1:{port}"], **extra)


def test_extra_headers_are_sent_and_signed(recorder: ThreadingHTTPServer, tmp_path: Path) -> None:
    port = recorder.server_address[1]
    headers = [("x-amz-request-payer", "requester"), ("X-Custom-Tenant", "city-of-paris")]
    with make_client(
        _allowed(tmp_path, port),
        endpoint_url=f"http://127.0.0.1:{port}",
        credentials=static_credentials("AKIDEXAMPLE", "secret"),
        headers=headers,
    ) as client:
        assert head_object(client, "bucket", "file.csv").size == 5
        head_object(client, "bucket", "again.csv")
        assert "city-of-paris" not in repr(client)  # header values are write-only secrets
    assert len(recorder.seen) == 2  # type: ignore[attr-defined]
    for seen in recorder.seen:  # type: ignore[attr-defined]
        lowered = {name.lower(): value for name, value in seen.items()}
        assert lowered["x-amz-request-payer"] == "requester"
        assert lowered["x-custom-tenant"] == "city-of-paris"
        signed = lowered["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        assert "x-amz-request-payer" in signed and "x-custom-tenant" in signed
        assert "Credential=AKIDEXAMPLE/" in lowered["authorization"]


def test_one_clients_headers_and_keys_never_reach_another(
    recorder: ThreadingHTTPServer, tmp_path: Path
) -> None:
    """Clients share a botocore session: each keeps its own handlers (headers) and keys all the same."""
    port = recorder.server_address[1]
    settings, endpoint = _allowed(tmp_path, port), f"http://127.0.0.1:{port}"
    tenant = make_client(
        settings,
        endpoint_url=endpoint,
        credentials=static_credentials("AKIDTENANT", "secret-1"),
        headers=[("X-Custom-Tenant", "city-of-paris")],
    )
    other = make_client(settings, endpoint_url=endpoint, credentials=static_credentials("AKIDOTHER", "s2"))
    try:
        head_object(other, "bucket", "file.csv")
        head_object(tenant, "bucket", "file.csv")
        head_object(other, "bucket", "file.csv")
    finally:
        tenant.close()
        other.close()
    seen = [{name.lower(): value for name, value in s.items()} for s in recorder.seen]  # type: ignore[attr-defined]
    assert ["x-custom-tenant" in s for s in seen] == [False, True, False]
    assert ["AKIDTENANT/" in s["authorization"] for s in seen] == [False, True, False]


@pytest.mark.parametrize(("key", "request_id"), [("elsewhere/file.csv", "RID1"), ("any.csv", "RID2")])
def test_wrong_region_names_the_right_one_without_redirecting(
    recorder: ThreadingHTTPServer, tmp_path: Path, key: str, request_id: str
) -> None:
    port = recorder.server_address[1]
    with (
        make_client(
            _allowed(tmp_path, port),
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
            credentials=static_credentials("AKIDEXAMPLE", "secret"),
        ) as client,
        pytest.raises(ConnectionProblem) as caught,
    ):
        if key.startswith("elsewhere"):
            client.raw.head_object(Bucket="elsewhere", Key="file.csv")
        else:
            with translated(client.where("bucket", key)):
                client.raw.get_object(Bucket="bucket", Key=key)
    assert caught.value.error_code == "wrong_region"
    assert caught.value.detail["region"] == "eu-central-1"
    assert caught.value.detail["request_id"] == request_id
    assert "eu-central-1" in caught.value.message
    assert len(recorder.seen) == 1  # type: ignore[attr-defined]  # no second, re-signed attempt


def test_closed_port_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _allowed(tmp_path, port, s3_max_attempts=1)
    with (
        make_client(settings, endpoint_url=f"http://127.0.0.1:{port}", credentials=None) as client,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        head_object(client, "bucket", "key")
    assert caught.value.error_code == "endpoint_unreachable"
    assert caught.value.http_status == 502


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections, never answers
        port = listener.getsockname()[1]
        settings = _allowed(tmp_path, port, s3_max_attempts=1, s3_read_timeout=0.5)
        with (
            make_client(settings, endpoint_url=f"http://127.0.0.1:{port}", credentials=None) as client,
            pytest.raises(UpstreamUnavailable) as caught,
        ):
            head_object(client, "bucket", "key")
    assert caught.value.error_code == "endpoint_timeout"


def test_tls_to_a_plain_http_server_is_a_tls_error(recorder: ThreadingHTTPServer, tmp_path: Path) -> None:
    port = recorder.server_address[1]
    settings = _allowed(tmp_path, port, s3_max_attempts=1)
    with (
        make_client(settings, endpoint_url=f"https://127.0.0.1:{port}", credentials=None) as client,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        head_object(client, "bucket", "key")
    assert caught.value.error_code == "tls_error"
