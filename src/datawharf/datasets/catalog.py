"""The read contract for the Explore side: what is published, its schema, and its Parquet files.

Only published datasets are visible here; ``files`` are the paths of the current version's Parquet files
in ``filesystem`` (column names = field names; types per the warehouse convention in
``store/warehouse.py``): absolute local paths in a local warehouse (``filesystem`` None or a
``LocalFileSystem``: DuckDB reads them itself), ``bucket/prefix/...`` keys in an S3 one (the query engine
reads them through a pyarrow dataset on that filesystem). A version's files never change once listed, so
a reader may cache by ``version_uid``, on any replica: the database, not a folder, says which version is
current.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow.fs as pafs
from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets.control import aware
from datawharf.settings import Settings
from datawharf.store.models.datasets import Dataset, DatasetVersion
from datawharf.store.warehouse import Warehouse, make_warehouse


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
    files: tuple[str, ...]  # paths in ``filesystem``
    is_restricted: bool
    modified: datetime | None  # when the data last changed (the current version's publish time)
    version_uid: str
    records_count: int
    filesystem: pafs.FileSystem | None = None  # None: local paths

    @property
    def title(self) -> str | None:
        return self.metadata.get("default", {}).get("title", {}).get("value")


def _warehouse(settings: Settings) -> Warehouse:
    """The warehouse the versions are read from: the local folder, or the S3 bucket (one shared
    instance, so its filesystem, and the query engine's datasets on it, are reused across requests)."""
    return make_warehouse(settings)


def _version_files(
    warehouse: Warehouse, dataset: Dataset, version: DatasetVersion
) -> tuple[pafs.FileSystem, tuple[str, ...]]:
    """Where a version's files are: the warehouse's filesystem and their paths in it (the layout is the
    warehouse's: ``version_path/name``). A part shared with an older version is named
    ``../<data_uid>/part-...`` (``datasets/incremental.py``): normalised here, since an S3 key is not a
    path and ``..`` in it names nothing."""
    folder = warehouse.version_path(dataset.uid, version.data_uid)
    return warehouse.filesystem, tuple(posixpath.normpath(f"{folder}/{name}") for name in version.files)


def _published(dataset: Dataset, version: DatasetVersion, warehouse: Warehouse) -> PublishedDataset:
    filesystem, files = _version_files(warehouse, dataset, version)
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
        files=files,
        filesystem=filesystem,
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
    return _published(row[0], row[1], _warehouse(settings))


def list_published(
    session: Session, settings: Settings, *, include_restricted: bool = True
) -> list[PublishedDataset]:
    """Every published dataset, ordered by ``dataset_id``; restricted ones only when asked."""
    query = _query().order_by(Dataset.dataset_id)
    if not include_restricted:
        query = query.where(Dataset.is_restricted.is_(False))
    warehouse = _warehouse(settings)
    return [_published(dataset, version, warehouse) for dataset, version in session.execute(query)]
