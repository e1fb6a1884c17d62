"""The calls datasets make into connections/ and s3/, in one place, so the seam stays thin.

A resource without a connection reads its URL anonymously (a public bucket); with one, the connections
service gives the client (credentials, region, headers) and the base URL a relative name resolves
against.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from datawharf.connections import service as connection_service
from datawharf.connections import sources as connection_sources
from datawharf.datasets.sources import LocatedObject
from datawharf.errors import InvalidInput
from datawharf.s3.client import S3Client, client_for
from datawharf.s3.locations import S3Location, parse_location
from datawharf.s3.reader import head_object, open_object
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource

STREAM_CHUNK = 8 * 1024 * 1024
STREAM_CONCURRENCY = 4


def check_connection(session: Session, uid: str) -> None:
    """Raises ``connection_not_found`` (404) for an unknown uid."""
    connection_service.get_connection(session, uid)


def create_inline_connection(session: Session, settings: Settings, connection: dict[str, Any]) -> str:
    """An inline connection is checked like a saved one and saved as non-reusable: the resource refers to
    it by uid like any other, and its secrets are encrypted at rest the same way."""
    saved = connection_sources.inline_connection(settings, connection)
    saved.is_reusable = False
    session.add(saved)
    session.flush()
    return saved.uid


def _client(
    session_factory: Callable[[], Any], settings: Settings, resource: Resource, headers: list[tuple[str, str]]
) -> tuple[S3Client, S3Location]:
    url = resource.datasource["url"]
    if resource.connection_uid is None:
        location = parse_location(url)
        return client_for(settings, location, headers=headers), location
    with session_factory() as session:
        return connection_sources.connection_client(session, settings, resource.connection_uid, url, headers)


def locate_object(
    session_factory: Callable[[], Any], settings: Settings, resource: Resource, headers: list[tuple[str, str]]
) -> LocatedObject:
    client, location = _client(session_factory, settings, resource, headers)
    if not location.is_object:
        client.close()
        raise InvalidInput(
            f"{location.uri} is not an object: give the URL of a file (bucket/key).",
            error_code="invalid_datasource",
        )
    try:
        info = head_object(client, location.bucket, location.key)
    except BaseException:
        client.close()
        raise

    def open_stream() -> Any:
        return open_object(
            client,
            location.bucket,
            location.key,
            access="stream",
            info=info,
            chunk_size=STREAM_CHUNK,
            concurrency=STREAM_CONCURRENCY,
        )

    def open_preview() -> Any:
        return open_object(client, location.bucket, location.key, access="preview", info=info)

    return LocatedObject(
        name=posixpath.basename(location.key),
        etag=info.etag,
        size=info.size,
        last_modified=info.last_modified,
        content_type=info.content_type,
        open=open_stream,
        open_preview=open_preview,
        close=client.close,
    )
