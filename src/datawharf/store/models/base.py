"""Declarative base and the conventions every table follows.

Public ids are short random strings with the reference prefix (``co_``, ``da_``, ``re_``, ``ak_``...):
they never change and reveal nothing about row counts. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Dialect, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

_UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# Deterministic constraint names, so Alembic migrations name the same objects on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_uid(prefix: str) -> str:
    """A public id such as ``co_k3x9q2mz``: prefix, underscore, 10 random base-36 characters."""
    return prefix + "_" + "".join(secrets.choice(_UID_ALPHABET) for _ in range(10))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database: SQLite keeps no zone and hands back naive values,
    which would reach the API as date-times without a zone (the reference requires one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Timestamped:
    """``created_at`` / ``updated_at``, set by the database session, never by the caller."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


UID = String(32)
