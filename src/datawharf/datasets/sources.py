"""A resource's datasource on save: typed, resolved and scope-checked (``locate``), then stored.

The public form keeps the reference shape (``{"type", "url", "connection": {"uid"}, "headers"}``, header
values ``null``); the header values are encrypted at rest. An inline connection is checked like a saved
one and saved as non-reusable: the resource refers to it by uid like any other, and its secrets are
encrypted the same way. Reading the object (preview, publish) is ``datasets/locate.py``'s.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from datawharf.connections.crypto import encrypt
from datawharf.datasets import locate
from datawharf.datasets.datasource import parse_datasource
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource


@dataclass(frozen=True)
class PreparedDatasource:
    public: dict[str, Any]
    connection_uid: str | None
    headers_secret: str | None


def prepare_datasource(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    permissions: Collection[str],
    previous: Resource | None = None,
) -> PreparedDatasource:
    """Check the datasource as the caller may use it (no request leaves) and make its stored form."""
    typed = parse_datasource(datasource)
    target = locate.resolve(session, settings, typed, permissions=permissions, previous=previous)
    connection_uid = target.connection.uid if target.connection is not None else None
    if typed.inline is not None and target.connection is not None:
        session.add(target.connection)
        session.flush()
    public: dict[str, Any] = {"type": "amazon_s3", "url": typed.url, "connection": {"uid": connection_uid}}
    secret = None
    if target.headers:
        public["headers"] = [{"name": name, "value": None} for name, _ in target.headers]
        secret = encrypt(settings, json.dumps([[name, value] for name, value in target.headers]))
    return PreparedDatasource(public=public, connection_uid=connection_uid, headers_secret=secret)
