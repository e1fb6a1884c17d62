"""Where a connection's credentials may go, and who may use a saved connection.

A connection is a key to one place: its endpoint (scheme, host, port) and, under it, the bucket and the
key prefix its URL names. Its credentials (static keys or an assumed role's session token) and its
headers are only ever sent there: ``check_in_scope`` refuses any other location with
``url_outside_connection`` before a client is even made. A connection without a URL (an IAM role may
have none) holds AWS credentials, so it reaches AWS S3 endpoints only.

Who may pick a saved connection for a datasource (``can_reuse``): only a reusable one (an inline
connection is saved as non-reusable, for the one resource it came with), and only for a caller holding
``edit_domain``, the permission that lists, creates and reads connections. A key that cannot see a
connection cannot spend it either.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from datawharf.errors import InvalidInput
from datawharf.s3.locations import S3Location, parse_location
from datawharf.store.models import Connection

REUSE_PERMISSION = "edit_domain"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def can_reuse(connection: Connection, permissions: Collection[str]) -> bool:
    """Whether a caller with ``permissions`` may give this saved connection to a new datasource."""
    return bool(connection.is_reusable) and REUSE_PERMISSION in permissions


def _endpoint(location: S3Location) -> tuple[str, str, int] | None:
    """(scheme, host, port) of the endpoint; ``None`` for ``s3://`` (botocore's AWS endpoint)."""
    if location.endpoint_url is None:
        return None
    parts = urlsplit(location.endpoint_url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _has_dot_segment(key: str) -> bool:
    return any(segment in (".", "..") for segment in key.split("/"))


def _outside(connection: Connection, location: S3Location, why: str) -> InvalidInput:
    scope = connection.url or "AWS S3 endpoints"
    where = f"{location.uri} at {location.endpoint_url}" if location.endpoint_url else location.uri
    return InvalidInput(
        f"{where} is outside the connection {connection.uid}, which may only be used under "
        f"{scope} ({why}): give a URL under the connection's URL (or a name relative to it), or use "
        "another connection.",
        error_code="url_outside_connection",
        detail={"url": location.uri, "connection_uid": connection.uid, "connection_url": connection.url},
    )


def check_in_scope(connection: Connection, location: S3Location) -> None:
    """Raise ``url_outside_connection`` unless ``location`` is under the connection's URL."""
    if _has_dot_segment(location.key):
        raise _outside(connection, location, "the key has a '.' or '..' segment")
    if not connection.url:
        if location.provider != "aws":
            raise _outside(connection, location, "a connection without a URL reaches AWS S3 only")
        return
    base = parse_location(connection.url)
    if _endpoint(base) != _endpoint(location):
        raise _outside(connection, location, "another endpoint: scheme, host or port differ")
    if base.bucket and location.bucket != base.bucket:
        raise _outside(connection, location, f"another bucket than {base.bucket}")
    if base.key:
        prefix = base.key if base.key.endswith("/") else base.key + "/"
        if location.key != base.key and not location.key.startswith(prefix):
            raise _outside(connection, location, f"outside the prefix {prefix}")
