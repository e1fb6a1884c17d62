"""The botocore error table: S3 codes and transport failures become stable datawharf codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as bx
from botocore.exceptions import ClientError

from datawharf.errors import ConnectionProblem, InvalidInput, UpstreamUnavailable
from datawharf.s3.client import validate_headers
from datawharf.s3.errors import Where, translate

OBJECT = Where(
    bucket="data", key="dir/file.csv", endpoint="https://s3.eu-west-3.amazonaws.com", region="eu-west-3"
)
BUCKET = Where(bucket="data", endpoint="https://s3.eu-west-3.amazonaws.com", region="eu-west-3")


def client_error(code: str, status: int, operation: str = "GetObject", **extra: Any) -> ClientError:
    headers = {"x-amz-request-id": "REQ123", "x-amz-id-2": "HOST456", **extra.pop("headers", {})}
    return ClientError(
        {
            "Error": {"Code": code, "Message": extra.pop("message", "msg"), **extra},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        },
        operation,
    )


CASES = [
    ("InvalidAccessKeyId", 403, OBJECT, ConnectionProblem, "unknown_access_key", "authentication"),
    ("SignatureDoesNotMatch", 403, OBJECT, ConnectionProblem, "bad_signature", "authentication"),
    ("AccessDenied", 403, OBJECT, ConnectionProblem, "access_denied", "object"),
    ("AccessDenied", 403, BUCKET, ConnectionProblem, "access_denied", "bucket"),
    ("403", 403, OBJECT, ConnectionProblem, "access_denied", "object"),
    ("NoSuchBucket", 404, OBJECT, ConnectionProblem, "no_such_bucket", "bucket"),
    ("NoSuchKey", 404, OBJECT, ConnectionProblem, "no_such_key", "object"),
    ("404", 404, OBJECT, ConnectionProblem, "no_such_key", "object"),
    ("404", 404, BUCKET, ConnectionProblem, "no_such_bucket", "bucket"),
    ("PreconditionFailed", 412, OBJECT, ConnectionProblem, "object_changed", "object"),
    ("412", 412, OBJECT, ConnectionProblem, "object_changed", "object"),
    ("InvalidRange", 416, OBJECT, ConnectionProblem, "invalid_range", "object"),
    ("InvalidObjectState", 403, OBJECT, ConnectionProblem, "object_archived", "object"),
    ("RequestTimeTooSkewed", 403, OBJECT, ConnectionProblem, "clock_skew", "authentication"),
    ("ExpiredToken", 400, OBJECT, ConnectionProblem, "expired_credentials", "authentication"),
    ("SlowDown", 503, OBJECT, UpstreamUnavailable, "slow_down", "endpoint"),
    ("503", 503, OBJECT, UpstreamUnavailable, "slow_down", "endpoint"),
    ("InternalError", 500, OBJECT, UpstreamUnavailable, "upstream_error", "endpoint"),
    ("SomethingNew", 400, OBJECT, ConnectionProblem, "s3_error", "object"),
]


@pytest.mark.parametrize(("code", "status", "where", "kind", "error_code", "step"), CASES)
def test_client_errors(code: str, status: int, where: Where, kind: type, error_code: str, step: str) -> None:
    error = translate(client_error(code, status), where)
    assert type(error) is kind
    assert error.error_code == error_code
    assert error.detail["step"] == step
    assert error.detail["request_id"] == "REQ123"
    assert error.detail["host_id"] == "HOST456"
    assert error.detail["s3_error_code"] == code
    assert ":" in error.message and len(error.message) > 40


def test_messages_name_what_failed() -> None:
    assert "s3://data/dir/file.csv" in translate(client_error("AccessDenied", 403), OBJECT).message
    assert "dir/file.csv" in translate(client_error("NoSuchKey", 404), OBJECT).message
    assert "data" in translate(client_error("NoSuchBucket", 404), OBJECT).message


@pytest.mark.parametrize(
    "error",
    [
        client_error("AuthorizationHeaderMalformed", 400, Region="eu-central-1"),
        client_error("PermanentRedirect", 301, Endpoint="data.s3.eu-central-1.amazonaws.com"),
        client_error("301", 301, operation="HeadObject", headers={"x-amz-bucket-region": "eu-central-1"}),
    ],
)
def test_wrong_region_names_the_right_one(error: ClientError) -> None:
    translated = translate(error, OBJECT)
    assert translated.error_code == "wrong_region"
    assert translated.detail["region"] == "eu-central-1"
    assert translated.detail["requested_region"] == "eu-west-3"
    assert "eu-central-1" in translated.message


TRANSPORT = [
    (bx.SSLError(endpoint_url="https://x", error="bad cert"), "tls_error"),
    (bx.ConnectTimeoutError(endpoint_url="https://x"), "endpoint_timeout"),
    (bx.ReadTimeoutError(endpoint_url="https://x"), "endpoint_timeout"),
    (bx.EndpointConnectionError(endpoint_url="https://x"), "endpoint_unreachable"),
    (bx.ConnectionClosedError(endpoint_url="https://x"), "endpoint_unreachable"),
    (bx.ResponseStreamingError(error="reset"), "endpoint_unreachable"),
]


@pytest.mark.parametrize(("exc", "code"), TRANSPORT)
def test_transport_errors_are_upstream_unavailable(exc: Exception, code: str) -> None:
    error = translate(exc, OBJECT)
    assert isinstance(error, UpstreamUnavailable)
    assert error.http_status == 502
    assert error.error_code == code


def test_missing_credentials() -> None:
    error = translate(bx.NoCredentialsError(), OBJECT)
    assert error.error_code == "missing_credentials" and error.detail["step"] == "authentication"


def test_datawharf_errors_pass_through() -> None:
    original = InvalidInput("x", error_code="private_address_refused")
    assert translate(original, OBJECT) is original


def test_headers_are_checked() -> None:
    assert validate_headers([("x-amz-request-payer", "requester")]) == (("x-amz-request-payer", "requester"),)
    bad = [
        [("X-Evil", "a\r\nInjected: 1")],
        [("X Evil", "v")],
        [("x-a", "1"), ("X-Api-Key: forged", "v")],
        [("", "v")],
        [("Authorization", "AWS4 forged")],
        [("x-amz-security-token", "t")],
        [("x-a", "1"), ("X-A", "2")],
    ]
    for headers in bad:
        with pytest.raises(InvalidInput) as caught:
            validate_headers(headers)
        assert caught.value.error_code == "invalid_header"
        assert "forged" not in caught.value.message and "Injected" not in caught.value.message
        assert "forged" not in str(caught.value.detail)
