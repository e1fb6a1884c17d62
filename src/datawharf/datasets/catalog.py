"""The read contract for the Explore side: what is published, its schema, and its Parquet files.

Only published datasets are visible here; ``files`` are absolute paths of the current version's Parquet
files (column names = field names; types per the warehouse convention in ``store/warehouse.py``). A
version's files never change once listed, so a reader may cache by ``version_uid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets.control import aware
from datawharf.settings import Settings
from datawharf.store.models.datasets import Dataset, DatasetVersion
from datawharf.store.warehouse import LocalWarehouse as Warehouse


@dataclass(frozen=True)
class PublishedField:
    name: str
    label: str
    type: str  # text, int, double, date, datetime, geo_point_2d, geo_shape
    description: str | None
    annotations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class PublishedDataset:
    uid: str
    dataset_id: str
    metadata: dict[str, Any]  # the published metadata (not the draft edits change)
    fields: tuple[PublishedField, ...]
    files: tuple[Path, ...]
    is_restricted: bool
    modified: datetime | None  # when the data last changed (the current version's publish time)
    version_uid: str
    records_count: int

    @property
    def title(self) -> str | None:
        return self.metadata.get("default", {}).get("title", {}).get("value")


def _published(dataset: Dataset, version: DatasetVersion, warehouse: Warehouse) -> PublishedDataset:
    folder = warehouse.version_dir(dataset.uid, version.data_uid)
    return PublishedDataset(
        uid=dataset.uid,
        dataset_id=dataset.dataset_id,
        metadata=dataset.published_metadata or {},
        fields=tuple(
            PublishedField(
                name=f["name"],
                label=f.get("label") or f["name"],
                type=f.get("type", "text"),
                description=f.get("description"),
                annotations=tuple(f.get("annotations") or ()),
            )
            for f in version.fields
        ),
        files=tuple(folder / name for name in version.files),
        is_restricted=dataset.is_restricted,
        modified=aware(dataset.published_at),
        version_uid=version.uid,
        records_count=version.records_count,
    )


def _query() -> Any:
    return (
        select(Dataset, DatasetVersion)
        .join(DatasetVersion, DatasetVersion.uid == Dataset.current_version_uid)
        .where(Dataset.is_published.is_(True))
    )


def get_published(session: Session, dataset_id: str, settings: Settings) -> PublishedDataset | None:
    """The published dataset with this ``dataset_id`` (None when absent or unpublished)."""
    row = session.execute(_query().where(Dataset.dataset_id == dataset_id)).one_or_none()
    if row is None:
        return None
    return _published(row[0], row[1], Warehouse(settings))


def list_published(
    session: Session, settings: Settings, *, include_restricted: bool = True
) -> list[PublishedDataset]:
    """Every published dataset, ordered by ``dataset_id``; restricted ones only when asked."""
    query = _query().order_by(Dataset.dataset_id)
    if not include_restricted:
        query = query.where(Dataset.is_restricted.is_(False))
    warehouse = Warehouse(settings)
    return [_published(dataset, version, warehouse) for dataset, version in session.execute(query)]
