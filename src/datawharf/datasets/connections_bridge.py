"""The calls datasets make into connections/ and s3/, in one place, so the seam stays thin.

Wired to the connections service once it lands; until then a connection uid is taken as given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource


def check_connection(session: Session, settings: Settings, uid: str) -> None:
    return None


def create_inline_connection(session: Session, settings: Settings, connection: dict[str, Any]) -> str:
    raise InvalidInput(
        "Inline connections are not available yet: create the connection first, then refer to it by uid.",
        error_code="invalid_datasource",
    )


def open_object(
    session_factory: Any, settings: Settings, resource: Resource, headers: list[tuple[str, str]]
) -> Any:
    raise InvalidInput("Opening S3 objects is not wired yet.", error_code="invalid_datasource")
