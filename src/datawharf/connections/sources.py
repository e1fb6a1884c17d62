"""What the preview and publish paths call to read through a connection: a client and a location.

    open_source(session, settings, datasource)   -> S3Source (client, location, connection_uid)
    S3Source.head()                              -> ObjectInfo (HEAD, with a precise error if refused)
    S3Source.probe()                             -> (ObjectInfo, first 64 KiB): one ranged GET, for previews
    connection_client(session, settings, uid, url, headers=())  -> (S3Client, S3Location)

``datasource`` is the reference ``AmazonS3Datasource``: ``{"type": "amazon_s3", "url": ...,
"headers": [{name, value}], "connection": {"uid": "co_..."} | <an inline AmazonS3Connection> | None}``.
``url`` is absolute, or relative to the connection's URL. Without a connection the object is read
anonymously (a public bucket). An inline connection is checked like a saved one but not saved; only
signature v4 can be inline (an IAM role needs a saved connection for its external ID).

The caller owns the returned client: close it (``S3Source`` is a context manager) when done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from datawharf.connections import service
from datawharf.connections.schemas import ConnectionCreate, HeaderIn, SigV4AuthIn
from datawharf.errors import InvalidInput
from datawharf.s3.client import S3Client, client_for
from datawharf.s3.locations import S3Location, parse_location
from datawharf.s3.reader import ObjectInfo, head_object, probe_object
from datawharf.settings import Settings
from datawharf.store.models import Connection


@dataclass
class S3Source:
    client: S3Client
    location: S3Location
    connection_uid: str | None

    def head(self) -> ObjectInfo:
        self._check_object()
        return head_object(self.client, self.location.bucket, self.location.key)

    def _check_object(self) -> None:
        if not self.location.is_object:
            raise InvalidInput(
                f"{self.location.uri} is not an object: give the URL of a file (bucket/key).",
                error_code="not_an_object",
            )

    def probe(self) -> tuple[ObjectInfo, bytes]:
        """``head()`` and the object's first 64 KiB, in one request (``probe_object``): for previews."""
        self._check_object()
        return probe_object(self.client, self.location.bucket, self.location.key)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> S3Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _merge(base: list[tuple[str, str]], extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The connection's headers, overridden by name (case-insensitive) by the datasource's."""
    merged = {name.lower(): (name, value) for name, value in base}
    for name, value in extra:
        merged[name.lower()] = (name, value)
    return list(merged.values())


def _client(
    settings: Settings, connection: Connection, url: str, headers: Iterable[tuple[str, str]]
) -> tuple[S3Client, S3Location]:
    location = parse_location(url, base_url=connection.url)
    client = client_for(
        settings,
        location,
        region=connection.region,
        credentials=service.credentials_of(settings, connection),
        headers=_merge(service.headers_of(settings, connection), headers),
    )
    return client, location


def connection_client(
    session: Session,
    settings: Settings,
    connection_uid: str,
    url: str,
    headers: Iterable[tuple[str, str]] = (),
) -> tuple[S3Client, S3Location]:
    """A client signing as the saved connection, and the location of ``url`` (may be relative)."""
    return _client(settings, service.get_connection(session, connection_uid), url, headers)


def inline_connection(settings: Settings, data: Mapping[str, Any]) -> Connection:
    """An unsaved connection from an inline ``AmazonS3Connection`` dict, checked like a saved one."""
    try:
        parsed = ConnectionCreate.model_validate(dict(data))
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        raise InvalidInput(
            f"The inline connection is not valid (check: {', '.join(fields)}); see the AmazonS3Connection "
            "schema, or create the connection first and refer to it by uid.",
            error_code="invalid_datasource",
            detail={"fields": fields},
        ) from None
    if not isinstance(parsed.auth, SigV4AuthIn):
        raise InvalidInput(
            "An IAM-role connection cannot be given inline: it needs its own external ID in the role's trust "
            "policy. Create it with POST /datasource_connections/ and refer to it by uid.",
            error_code="invalid_datasource",
        )
    return service.build_unsaved(settings, parsed)


def _datasource_headers(raw: Any) -> list[tuple[str, str]]:
    """The datasource's ``[{name, value}]`` headers; a refusal names the rule, never a value."""
    if raw is None:
        return []
    refused = InvalidInput(
        'The datasource\'s headers must be a list of {"name": "...", "value": "..."} objects, each value '
        "a string.",
        error_code="invalid_datasource",
        detail={"datasource.headers": ["a list of {name, value} objects"]},
    )
    if not isinstance(raw, list):
        raise refused
    try:
        parsed = [HeaderIn.model_validate(item) for item in raw]
    except ValidationError:
        raise refused from None
    return [(header.name, header.value.get_secret_value() if header.value else "") for header in parsed]


def open_source(session: Session, settings: Settings, datasource: Mapping[str, Any]) -> S3Source:
    """The client and location for an ``AmazonS3Datasource`` dict (see module docstring)."""
    url = datasource.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            "The datasource has no url: give the object's URL, or its name relative to the connection's.",
            error_code="invalid_datasource",
        )
    headers = _datasource_headers(datasource.get("headers"))
    connection = datasource.get("connection")
    if not connection:
        location = parse_location(url)
        return S3Source(client_for(settings, location, headers=headers), location, None)
    if isinstance(connection, Mapping) and set(connection) == {"uid"}:
        client, location = connection_client(session, settings, str(connection["uid"]), url, headers)
        return S3Source(client, location, str(connection["uid"]))
    if isinstance(connection, Mapping):
        unsaved = inline_connection(settings, connection)
        client, location = _client(settings, unsaved, url, headers)
        return S3Source(client, location, None)
    raise InvalidInput(
        'The datasource\'s connection must be {"uid": "co_..."} or an inline Amazon S3 connection.',
        error_code="invalid_datasource",
    )


def open_object(
    session: Session, settings: Settings, datasource: Mapping[str, Any]
) -> tuple[S3Client, S3Location, ObjectInfo]:
    """``open_source`` then HEAD: the client (caller closes it), the location and the object's info."""
    source = open_source(session, settings, datasource)
    try:
        return source.client, source.location, source.head()
    except BaseException:
        source.close()
        raise
