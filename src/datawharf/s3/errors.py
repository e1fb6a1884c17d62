"""botocore's errors, translated once into datawharf's, with a stable code and a fix in the message.

The S3 error code (from the XML body, or the bare HTTP status of a HEAD, which has no body) and the
botocore exception class decide; ``str(exc)`` is never matched. The request id and host id are kept in
``detail`` (support asks for them). Each error names the step that failed, as connection validation
reports it: endpoint | authentication | bucket | object.

Every error carries our own message, the S3 error code and the HTTP status (``detail.s3_error_code``,
``detail.http_status``). Everything the endpoint said (its message, code, ids, region, a redirect's host)
is untrusted text: it is repeated only through the connection's ``Scrubber`` (``Where.scrubber``), which
takes the connection's secrets out and bounds the length, so an endpoint echoing the request's headers
cannot put a secret in an API answer, a page, a log or a stored validation report.

    ConnectionProblem (400)       the server answered no: bad key, no bucket, access denied...
    UpstreamUnavailable (502)     no usable answer: unreachable, timed out, TLS, throttled, 5xx
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore import exceptions as bx

from datawharf.errors import ConnectionProblem, DatawharfError, UpstreamUnavailable
from datawharf.s3.scrub import Scrubber


@dataclass(frozen=True)
class Where:
    """What the failed request was about, for the message (never credentials), and how to clean what
    the endpoint said about it (``scrubber``: the connection's secrets, never shown)."""

    bucket: str | None = None
    key: str | None = None
    endpoint: str | None = None
    region: str | None = None
    scrubber: Scrubber = field(default_factory=Scrubber, repr=False, compare=False)

    @property
    def target(self) -> str:
        if self.bucket and self.key:
            return f"s3://{self.bucket}/{self.key}"
        if self.bucket:
            return f"bucket {self.bucket}"
        return self.endpoint or "the S3 endpoint"


@dataclass(frozen=True)
class Rule:
    code: str
    step: str  # "bucket_or_object" is decided by whether a key was involved
    message: str  # format fields: target, bucket, key, endpoint, region, s3_message
    upstream: bool = False


_RULES: dict[str, Rule] = {
    "InvalidAccessKeyId": Rule(
        "unknown_access_key",
        "authentication",
        "The access key ID is unknown to {endpoint}: check the connection's access key ID (and that the key "
        "was not deleted or deactivated).",
    ),
    "SignatureDoesNotMatch": Rule(
        "bad_signature",
        "authentication",
        "The request signature was refused by {endpoint}: the secret access key does not match the access "
        "key ID. Enter the secret again (or rotate the key and update the connection).",
    ),
    "AccessDenied": Rule(
        "access_denied",
        "bucket_or_object",
        "Access to {target} was denied: give the connection's key (or role) a policy allowing s3:GetObject "
        "on the object and s3:ListBucket on the bucket, and check the bucket policy.",
    ),
    "AllAccessDisabled": Rule(
        "access_denied",
        "bucket",
        "All access to {target} is disabled by its owner: ask the bucket owner, or use another bucket.",
    ),
    "AccountProblem": Rule(
        "access_denied",
        "authentication",
        "The account of the connection's key has a problem (suspended, unpaid): check it with the provider.",
    ),
    "NoSuchBucket": Rule(
        "no_such_bucket",
        "bucket",
        "The bucket {bucket} does not exist at {endpoint}: check the bucket name and the URL's endpoint.",
    ),
    "NoSuchKey": Rule(
        "no_such_key",
        "object",
        "The object {key} does not exist in bucket {bucket}: check the file name (keys are case-sensitive).",
    ),
    "NoSuchVersion": Rule(
        "no_such_key",
        "object",
        "That version of {target} does not exist: check the version, or read the latest.",
    ),
    "PreconditionFailed": Rule(
        "object_changed",
        "object",
        "{target} was replaced while it was being read (its ETag changed): run the operation again to read "
        "the new version.",
    ),
    "InvalidRange": Rule(
        "invalid_range",
        "object",
        "A byte range beyond the end of {target} was requested: the object is shorter than expected; run "
        "the operation again.",
    ),
    "InvalidObjectState": Rule(
        "object_archived",
        "object",
        "{target} is archived (Glacier / Deep Archive): restore it in the bucket first, then try again.",
    ),
    "RequestTimeTooSkewed": Rule(
        "clock_skew",
        "authentication",
        "The request was refused because this server's clock differs from S3's by more than 15 minutes: "
        "synchronize the clock (NTP).",
    ),
    "ExpiredToken": Rule(
        "expired_credentials",
        "authentication",
        "The temporary credentials have expired: validate the connection again to get fresh ones.",
    ),
    "TokenRefreshRequired": Rule(
        "expired_credentials",
        "authentication",
        "The temporary credentials have expired: validate the connection again to get fresh ones.",
    ),
    "InvalidToken": Rule(
        "invalid_credentials",
        "authentication",
        "The session token was refused by {endpoint}: validate the connection again.",
    ),
    "InvalidBucketName": Rule(
        "invalid_bucket_name",
        "bucket",
        "{bucket} is not a valid bucket name for {endpoint}: check the URL.",
    ),
    "InvalidRequest": Rule(
        "invalid_request",
        "object",
        "S3 refused the request for {target}: {s3_message} Check the connection's extra headers "
        "(e.g. SSE-C keys, requester-pays).",
    ),
    "InvalidArgument": Rule(
        "invalid_request",
        "object",
        "S3 refused the request for {target}: {s3_message} Check the connection's extra headers.",
    ),
    "MissingSecurityHeader": Rule(
        "invalid_request",
        "object",
        "S3 requires a header the request lacked for {target}: {s3_message} Add it to the connection's "
        "headers.",
    ),
    "SlowDown": Rule(
        "slow_down",
        "endpoint",
        "{endpoint} asked us to slow down (throttling) and retries did not get through: try again later.",
        upstream=True,
    ),
    "ServiceUnavailable": Rule(
        "slow_down",
        "endpoint",
        "{endpoint} is unavailable or throttling (503) and retries did not get through: try again later.",
        upstream=True,
    ),
    "InternalError": Rule(
        "upstream_error",
        "endpoint",
        "{endpoint} failed with an internal error and retries did not get through: try again later.",
        upstream=True,
    ),
}

# A HEAD has no body, so botocore only knows the HTTP status: these are the best reading of it.
_STATUS_RULES: dict[str, Rule] = {
    "403": Rule(
        "access_denied",
        "bucket_or_object",
        "The request for {target} was refused (403): the access key may be unknown, the secret wrong, "
        "or the key not allowed to read it. Check the credentials and the key's policy.",
    ),
    "404": _RULES["NoSuchKey"],
    "412": _RULES["PreconditionFailed"],
    "416": _RULES["InvalidRange"],
    "503": _RULES["ServiceUnavailable"],
    "500": _RULES["InternalError"],
}

_WRONG_REGION_CODES = {
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
    "IllegalLocationConstraintException",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ENDPOINT_REGION = re.compile(r"s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d+)\.")
# A region is a host-name label (botocore checks the same before using one).
_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def response_region(response: dict[str, Any], scrubber: Scrubber | None = None) -> str | None:
    """The bucket's real region, as an S3 error response tells it (header, or error body fields).

    Only a value shaped like a region, and not one of the connection's secrets, is taken: an endpoint
    echoing a secret into ``x-amz-bucket-region`` must not get it repeated in a ``wrong_region`` message.
    """
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    error = response.get("Error", {}) or {}
    match = _ENDPOINT_REGION.search(str(error.get("Endpoint", ""))[:256])
    candidates = (headers.get("x-amz-bucket-region"), error.get("Region"), match.group(1) if match else None)
    for candidate in candidates:
        region = str(candidate or "").strip().lower()
        if _REGION.match(region) and (scrubber is None or scrubber.token(region) == region):
            return region
    return None


def request_ids(response: dict[str, Any], scrubber: Scrubber | None = None) -> dict[str, str]:
    """The request id and host id support asks for (upstream values: cleaned of secrets, bounded)."""
    scrubber = scrubber or Scrubber()
    metadata = response.get("ResponseMetadata", {}) or {}
    headers = metadata.get("HTTPHeaders", {}) or {}
    found = {
        "request_id": metadata.get("RequestId")
        or headers.get("x-amz-request-id")
        or headers.get("x-amzn-requestid")
        or (response.get("Error", {}) or {}).get("RequestId"),
        "host_id": metadata.get("HostId") or headers.get("x-amz-id-2"),
    }
    return {name: scrubber.token(value) for name, value in found.items() if value}


def wrong_region_error(
    right_region: str, where: Where, response: dict[str, Any] | None = None
) -> ConnectionProblem:
    asked = where.region or "us-east-1"
    return ConnectionProblem(
        f"{where.target} is in region {right_region}, not {asked}: set the connection's region to "
        f"{right_region}.",
        step="bucket",
        error_code="wrong_region",
        detail={
            "region": right_region,
            "requested_region": asked,
            **_status_and_code(response or {}, where.scrubber),
            **request_ids(response or {}, where.scrubber),
        },
    )


def redirect_refused_error(where: Where, response: dict[str, Any]) -> ConnectionProblem:
    """A 3xx that is not a region redirect datawharf can name: refused, never followed.

    botocore does not follow HTTP redirects, and datawharf disarms its S3 region redirector (see
    ``s3.client``), so the redirect's target is only named (its host, cleaned), never contacted.
    """
    scrubber = where.scrubber
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    error = response.get("Error", {}) or {}
    target_url = str(headers.get("location") or error.get("Endpoint") or "")[:2048]
    try:
        target_host = urlsplit(target_url if "//" in target_url else f"//{target_url}").hostname or ""
    except ValueError:
        target_host = ""
    host = scrubber.token(target_host) if target_host else None
    facts = _status_and_code(response, scrubber)
    said = ", ".join(str(value) for value in facts.values() if value)
    return ConnectionProblem(
        f"{where.endpoint or 'The S3 endpoint'} answered the request for {where.target} with a redirect "
        f"({said}){f' to {host}' if host else ''}, which datawharf does not follow. Give the connection "
        "the URL of the endpoint that serves the bucket (with AWS, the bucket's regional endpoint), and "
        "check its addressing style (path-style URLs for S3-compatible stores).",
        step="endpoint",
        error_code="redirect_refused",
        detail={**facts, "redirect_host": host, **request_ids(response, scrubber)},
    )


def _status_and_code(response: dict[str, Any], scrubber: Scrubber) -> dict[str, Any]:
    """``http_status`` and ``s3_error_code`` (cleaned: an error code is upstream text too)."""
    code = str((response.get("Error", {}) or {}).get("Code", "") or "")
    return {
        "http_status": response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        "s3_error_code": scrubber.token(code) if code else None,
    }


def translate(exc: Exception, where: Where) -> DatawharfError:
    """The datawharf error for a botocore exception (a datawharf error passes through unchanged)."""
    if isinstance(exc, DatawharfError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _translate_client_error(exc, where)
    return _translate_transport_error(exc, where)


def _translate_client_error(exc: bx.ClientError, where: Where) -> DatawharfError:
    response: dict[str, Any] = dict(exc.response or {})
    error = response.get("Error", {}) or {}
    code = str(error.get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    scrubber = where.scrubber
    if code in _WRONG_REGION_CODES or code == "301" or status in REDIRECT_STATUSES:
        region = response_region(response, scrubber)
        if region and region != where.region:
            return wrong_region_error(region, where, response)
        if status in REDIRECT_STATUSES or code == "PermanentRedirect":
            return redirect_refused_error(where, response)
    facts = _status_and_code(response, scrubber)
    ids = request_ids(response, scrubber)
    s3_message = scrubber.clean(error.get("Message", "")).rstrip(".")
    detail = {**facts, **({"s3_message": s3_message} if s3_message else {}), **ids}
    rule = _RULES.get(code) or _STATUS_RULES.get(code)
    if rule is None:
        return ConnectionProblem(
            f"S3 refused the request for {where.target} ({facts['s3_error_code'] or status}, HTTP {status}): "
            f"{s3_message or 'no message'}.",
            step="object" if where.key else "bucket",
            error_code="s3_error",
            detail=detail,
        )
    if code == "404" and not where.key:
        rule = _RULES["NoSuchBucket"]
    step = rule.step if rule.step != "bucket_or_object" else ("object" if where.key else "bucket")
    message = rule.message.format(
        target=where.target,
        bucket=where.bucket or "(none)",
        key=where.key or "(none)",
        endpoint=where.endpoint or "the S3 endpoint",
        region=where.region or "us-east-1",
        s3_message=(s3_message or "no message") + ".",
    )
    kind = UpstreamUnavailable if rule.upstream else ConnectionProblem
    return kind(message, step=step, error_code=rule.code, detail=detail)


def _translate_transport_error(exc: Exception, where: Where) -> DatawharfError:
    endpoint = where.endpoint or "the S3 endpoint"
    if isinstance(exc, bx.SSLError):
        return UpstreamUnavailable(
            f"The TLS connection to {endpoint} failed (certificate not trusted or not matching the host): "
            "check the URL's host, or the server's certificate.",
            step="endpoint",
            error_code="tls_error",
        )
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return UpstreamUnavailable(
            f"{endpoint} did not answer in time: check that the endpoint is up and reachable from this "
            "server (firewall, proxy), or raise DATAWHARF_S3_CONNECT_TIMEOUT / DATAWHARF_S3_READ_TIMEOUT.",
            step="endpoint",
            error_code="endpoint_timeout",
        )
    if isinstance(exc, bx.ResponseStreamingError | bx.IncompleteReadError):
        return UpstreamUnavailable(
            f"The connection to {endpoint} broke while reading {where.target}: try again.",
            step="object",
            error_code="endpoint_unreachable",
        )
    if isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectionClosedError
        | bx.ProxyConnectionError
        | bx.ConnectionError
        | bx.HTTPClientError,
    ):
        return UpstreamUnavailable(
            f"Could not connect to {endpoint}: check the URL's host and port, and that the server is up "
            "and reachable from this server.",
            step="endpoint",
            error_code="endpoint_unreachable",
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConnectionProblem(
            "No credentials were available to sign the request: give the connection an access key ID and "
            "secret, or a role.",
            step="authentication",
            error_code="missing_credentials",
        )
    if isinstance(exc, bx.ParamValidationError):
        return ConnectionProblem(
            f"The request for {where.target} was not valid: check the bucket name and key.",
            step="object" if where.key else "bucket",
            error_code="invalid_request",
        )
    return UpstreamUnavailable(
        f"The request to {endpoint} failed ({type(exc).__name__}): try again; if it persists, check the "
        "endpoint.",
        step="endpoint",
        error_code="upstream_error",
    )


@contextmanager
def translated(where: Where) -> Iterator[None]:
    """Run S3 calls; botocore errors leave as datawharf errors (``raise ... from`` keeps the cause)."""
    try:
        yield
    except DatawharfError:
        raise
    except (bx.BotoCoreError, bx.ClientError) as exc:
        raise translate(exc, where) from exc
