"""Where a resource's bytes come from: the datasource, checked on save and opened at publish.

This is the one seam between datasets and connections/S3: ``prepare_datasource`` (on save) and the
``Locator`` that ``default_locator`` makes (at publish and preview). Everything else in ``datasets/``
sees a ``LocatedObject``: how to open a binary stream, plus the object's identity (ETag, size,
Last-Modified) to record in the version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from datawharf.connections.crypto import decrypt, encrypt
from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource


@dataclass
class LocatedObject:
    """An object found (HEAD done) but not read yet: its identity, and how to stream it."""

    name: str  # the object's file name (key basename): extractors and guessing look at its extension
    etag: str | None
    size: int | None
    last_modified: datetime | None
    content_type: str | None
    open: Callable[[], BinaryIO]  # a sequential stream (overlapping ranged GETs pinned to ``etag``)
    open_preview: Callable[[], BinaryIO] | None = None  # small random-access reads, for previews
    close: Callable[[], None] = lambda: None

    def identity(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "size": self.size,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }


Locator = Callable[[Resource], LocatedObject]


@dataclass(frozen=True)
class PreparedDatasource:
    public: dict[str, Any]
    connection_uid: str | None
    headers_secret: str | None


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, error_code="invalid_datasource", detail={f"datasource.{field}": [message]})


def _headers(
    settings: Settings, raw: Any, previous: Resource | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Public headers (values hidden) and the encrypted ``[[name, value], ...]``.

    A header sent back with ``value: null`` (as the API showed it) keeps its stored value, so a client can
    PUT back what it read without wiping secrets.
    """
    if raw is None:
        return [], None
    if not isinstance(raw, list):
        raise _invalid("headers must be a list of {name, value}.", "headers")
    kept = dict(resource_headers(settings, previous)) if previous is not None else {}
    pairs: list[list[str]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise _invalid("each header needs a non-empty name.", "headers")
        value = item.get("value")
        if value is None:
            value = kept.get(item["name"])
            if value is None:
                raise _invalid(f"header {item['name']!r} needs a value.", "headers")
        if not isinstance(value, str):
            raise _invalid(f"header {item['name']!r} value must be a string.", "headers")
        pairs.append([item["name"], value])
    if not pairs:
        return [], None
    token = encrypt(settings, json.dumps(pairs))
    return [{"name": name, "value": None} for name, _ in pairs], token


def prepare_datasource(
    session: Session, settings: Settings, datasource: Any, *, previous: Resource | None = None
) -> PreparedDatasource:
    if not isinstance(datasource, dict):
        raise _invalid("datasource must be an object with a type.", "type")
    if datasource.get("type") != "amazon_s3":
        raise _invalid(
            f"Unsupported datasource type {datasource.get('type')!r}: datawharf reads 'amazon_s3'.", "type"
        )
    url = datasource.get("url")
    if not isinstance(url, str) or not url.strip():
        raise _invalid(
            "datasource.url is required: the URL of the object (or its name in the connection).", "url"
        )
    connection = datasource.get("connection")
    connection_uid = resolve_connection(session, settings, connection)
    headers, secret = _headers(settings, datasource.get("headers"), previous)
    public: dict[str, Any] = {"type": "amazon_s3", "url": url.strip(), "connection": {"uid": connection_uid}}
    if headers:
        public["headers"] = headers
    return PreparedDatasource(public=public, connection_uid=connection_uid, headers_secret=secret)


def resolve_connection(session: Session, settings: Settings, connection: Any) -> str | None:
    """``{"uid": ...}`` -> that uid (checked); an inline connection -> a new non-reusable one."""
    from datawharf.datasets import connections_bridge  # here: the bridge imports LocatedObject from us

    if connection is None or connection == {"uid": None}:  # the second: how a read resource shows "none"
        return None
    if not isinstance(connection, dict):
        raise _invalid('connection must be {"uid": "co_..."} or an inline connection.', "connection")
    if set(connection) == {"uid"}:
        uid = connection["uid"]
        if not isinstance(uid, str):
            raise _invalid("connection.uid must be a string.", "connection")
        connections_bridge.check_connection(session, uid)
        return uid
    return connections_bridge.create_inline_connection(session, settings, connection)


def resource_headers(settings: Settings, resource: Resource) -> list[tuple[str, str]]:
    """The datasource's headers, decrypted only to sign requests (stored as ``[[name, value], ...]``)."""
    if not resource.headers_secret:
        return []
    return [(name, value) for name, value in json.loads(decrypt(settings, resource.headers_secret))]


def default_locator(session_factory: Any, settings: Settings) -> Locator:
    """Finds a saved resource's object through its connection (the production path)."""
    from datawharf.datasets import connections_bridge  # here: the bridge imports LocatedObject from us

    def locate(resource: Resource) -> LocatedObject:
        headers = resource_headers(settings, resource)
        return connections_bridge.locate_object(session_factory, settings, resource, headers)

    return locate
