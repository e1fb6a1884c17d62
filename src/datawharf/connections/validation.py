"""Validating a connection: real signed requests, reported step by step.

The steps, in order: ``endpoint`` (the host is allowed and answers), ``authentication`` (the key is
known and the signature right; ``assume_role`` for an IAM-role connection), ``bucket``, ``object``.
Each failure carries the stable ``error_code`` of ``datawharf.s3.errors``; the steps before it passed,
the ones after it are reported as not checked (``ok: null``).

Which request proves what:
- an object URL: a one-byte ranged GET. Not a HEAD: a HEAD's error has no body, so S3 cannot tell us
  whether the key is unknown, the secret wrong or the policy too narrow (all are a bare 403);
- a bucket or prefix URL: ListObjectsV2 (``MaxKeys=1``) under the prefix;
- an endpoint URL (no bucket): ListBuckets; an access denied there still proves the key and signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from datawharf.errors import ConnectionProblem, DatawharfError, InvalidInput
from datawharf.s3.client import S3Client
from datawharf.s3.errors import translated
from datawharf.s3.locations import S3Location
from datawharf.s3.netguard import check_endpoint
from datawharf.settings import Settings
from datawharf.store.models import utcnow

SIGV4_STEPS = ("endpoint", "authentication", "bucket", "object")
IAM_STEPS = ("assume_role", "endpoint", "bucket", "object")


@dataclass
class Report:
    """Builds the stored report ``{is_valid, checked_at, steps: [{name, ok, error_code, message}]}``."""

    names: tuple[str, ...]
    checked_at: datetime = field(default_factory=utcnow)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ok(self, name: str, message: str) -> None:
        self.steps[name] = {"name": name, "ok": True, "error_code": None, "message": message}

    def skip(self, name: str, message: str) -> None:
        self.steps[name] = {"name": name, "ok": None, "error_code": None, "message": message}

    def fail(self, name: str, error: DatawharfError) -> None:
        """``name`` failed; earlier unreported steps passed implicitly, later ones were not checked."""
        index = self.names.index(name)
        for earlier in self.names[:index]:
            self.steps.setdefault(
                earlier, {"name": earlier, "ok": True, "error_code": None, "message": "Passed."}
            )
        self.steps[name] = {
            "name": name,
            "ok": False,
            "error_code": error.error_code,
            "message": error.message,
        }
        for later in self.names[index + 1 :]:
            self.steps.setdefault(
                later,
                {
                    "name": later,
                    "ok": None,
                    "error_code": None,
                    "message": f"Not checked: step {name} failed.",
                },
            )

    @property
    def failed(self) -> bool:
        return any(step["ok"] is False for step in self.steps.values())

    def as_dict(self) -> dict[str, Any]:
        steps = [
            self.steps.get(name, {"name": name, "ok": None, "error_code": None, "message": "Not checked."})
            for name in self.names
        ]
        return {
            "is_valid": not self.failed and any(step["ok"] for step in steps),
            "checked_at": self.checked_at.isoformat(),
            "steps": steps,
        }


def step_of(error: DatawharfError, names: tuple[str, ...]) -> str:
    """The report step of an error (S3 says ``authentication``, which an IAM report calls ``assume_role``)."""
    step = error.detail.get("step") if isinstance(error, ConnectionProblem) else None
    if error.error_code in ("secret_undecryptable", "missing_credentials"):
        step = "authentication"
    elif isinstance(error, InvalidInput) or step is None:
        step = "endpoint"
    if step == "authentication" and "authentication" not in names:
        step = "assume_role"
    return step if step in names else "endpoint"


def check_location(
    settings: Settings,
    location: S3Location,
    make_client: Callable[[], S3Client],
    report: Report,
    *,
    auth_ok_message: str,
    describe_error: Callable[[DatawharfError], DatawharfError] = lambda error: error,
) -> None:
    """Run the S3 requests proving ``location`` readable, recording each step in ``report``."""
    try:
        if location.endpoint_url is not None:
            check_endpoint(location.endpoint_url, settings)
        with make_client() as client:
            endpoint = client.endpoint_url or f"AWS S3 in {client.region}"
            if not location.bucket:
                _check_endpoint_only(client, report, endpoint, auth_ok_message)
                return
            if location.is_object:
                size = _read_first_byte(client, location)
                report.ok("endpoint", f"{endpoint} answered.")
                _ok_authentication(report, auth_ok_message)
                report.ok("bucket", f"The bucket {location.bucket} exists and is reachable.")
                report.ok("object", f"The object {location.key} is readable ({size} bytes).")
                return
            with translated(client.where(location.bucket, None)):
                listed = client.raw.list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
            report.ok("endpoint", f"{endpoint} answered.")
            _ok_authentication(report, auth_ok_message)
            report.ok("bucket", f"The bucket {location.bucket} exists and can be listed.")
            if not location.key:
                report.skip("object", "Not checked: the URL names a bucket, not an object.")
            elif listed.get("KeyCount", 0):
                report.ok("object", f"Objects exist under the prefix {location.key}.")
            else:
                report.fail(
                    "object",
                    ConnectionProblem(
                        f"No object exists under the prefix {location.key} in bucket {location.bucket}: "
                        "check the folder name (keys are case-sensitive).",
                        step="object",
                        error_code="no_such_key",
                    ),
                )
    except DatawharfError as error:
        step = step_of(error, report.names)
        if step != "endpoint" and "endpoint" not in report.steps:
            report.ok("endpoint", f"{location.endpoint_url or 'AWS S3'} answered.")
        report.fail(step, describe_error(error))


def _check_endpoint_only(client: S3Client, report: Report, endpoint: str, auth_ok_message: str) -> None:
    try:
        with translated(client.where()):
            client.raw.list_buckets()
    except ConnectionProblem as error:
        if error.error_code != "access_denied":
            raise
    report.ok("endpoint", f"{endpoint} answered.")
    _ok_authentication(report, auth_ok_message)
    report.skip("bucket", "Not checked: the URL names no bucket. Give a bucket or object URL to check it.")
    report.skip("object", "Not checked: the URL names no object.")


def _ok_authentication(report: Report, message: str) -> None:
    """Signature v4 proves the key here; an IAM-role report proved it when assuming the role."""
    if "authentication" in report.names:
        report.ok("authentication", message)


def _read_first_byte(client: S3Client, location: S3Location) -> int | str:
    """The object's size, proven readable by fetching its first byte."""
    try:
        with translated(client.where(location.bucket, location.key)):
            response = client.raw.get_object(Bucket=location.bucket, Key=location.key, Range="bytes=0-0")
            response["Body"].close()
    except ConnectionProblem as error:
        if error.error_code == "invalid_range":  # an empty object has no first byte, but is readable
            return 0
        raise
    return _total_size(response)


def _total_size(response: dict[str, Any]) -> int | str:
    content_range = str(response.get("ContentRange") or "")
    total = content_range.rpartition("/")[2]
    if total.isdigit():
        return int(total)
    return int(response.get("ContentLength") or 0)
