"""A dataset in one line (what ``datawharf datasets list`` shows), read without SQLAlchemy when it can be.

``read_summaries`` answers from the SQLite home through the stdlib (``store/sqlite_readonly.py``) and
returns ``None`` where that cannot answer (PostgreSQL, a home not migrated yet); the caller then lists
through ``service.list_datasets`` and ``summary_of``. Both give the same rows in the same order, which
``tests/unit/test_cli_startup.py`` checks on one database; the query here selects the columns the
``Dataset`` model maps and orders as ``service.list_datasets`` does (``created_at``, then ``uid``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datawharf.datasets.metadata import title_of
from datawharf.settings import Settings
from datawharf.store.sqlite_readonly import open_current_sqlite

if TYPE_CHECKING:
    from datawharf.store.models.datasets import Dataset

_SUMMARIES = (
    "SELECT uid, dataset_id, metadata, status, is_published, current_version_uid FROM datasets "
    "ORDER BY created_at, uid LIMIT ?"
)


@dataclass(frozen=True)
class DatasetSummary:
    uid: str
    dataset_id: str
    title: str
    status: str
    is_published: bool
    current_version_uid: str | None


def summary_of(dataset: Dataset) -> DatasetSummary:
    return DatasetSummary(
        uid=dataset.uid,
        dataset_id=dataset.dataset_id,
        title=title_of(dataset.metadata_) or "",
        status=dataset.status,
        is_published=dataset.is_published,
        current_version_uid=dataset.current_version_uid,
    )


def read_summaries(settings: Settings, *, limit: int) -> list[DatasetSummary] | None:
    """The first ``limit`` datasets from a current SQLite home, or ``None`` (then list through the store)."""
    connection = open_current_sqlite(settings)
    if connection is None:
        return None
    try:
        rows = connection.execute(_SUMMARIES, (limit,)).fetchall()
    finally:
        connection.close()
    return [
        DatasetSummary(
            uid=uid,
            dataset_id=dataset_id,
            title=title_of(json.loads(metadata) if metadata else {}) or "",
            status=status,
            is_published=bool(is_published),
            current_version_uid=current,
        )
        for uid, dataset_id, metadata, status, is_published, current in rows
    ]
