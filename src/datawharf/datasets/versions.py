"""Versions: every publish writes one; restoring an older one makes a new version that points at the
older files (the reference: "restoring will not erase the versions history")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets.service import RESTING, get_dataset, require_status, set_status
from datawharf.errors import InvalidInput, NotFound
from datawharf.settings import Settings
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, DatasetVersion
from datawharf.store.warehouse import Warehouse


def get_version(session: Session, dataset_uid: str, uid: str) -> DatasetVersion:
    version = session.get(DatasetVersion, uid)
    if version is None or version.dataset_uid != dataset_uid:
        raise NotFound(
            f"No version {uid!r} of dataset {dataset_uid!r}: list them with GET "
            f"/datasets/{dataset_uid}/versions/.",
            error_code="version_not_found",
        )
    return version


def list_versions(
    session: Session, dataset_uid: str, *, limit: int, offset: int
) -> tuple[int, list[DatasetVersion]]:
    get_dataset(session, dataset_uid)
    where = DatasetVersion.dataset_uid == dataset_uid
    total = session.scalar(select(func.count()).select_from(DatasetVersion).where(where)) or 0
    query = select(DatasetVersion).where(where).order_by(DatasetVersion.created_at.desc(), DatasetVersion.uid)
    return total, list(session.scalars(query.limit(limit).offset(offset)))


def restore_version(session: Session, settings: Settings, dataset_uid: str, uid: str) -> Dataset:
    dataset = get_dataset(session, dataset_uid, for_update=True)
    require_status(dataset, RESTING, "restore a version")
    old = get_version(session, dataset_uid, uid)
    folder = Warehouse(settings).version_dir(dataset_uid, old.data_uid)
    if not folder.is_dir():
        raise InvalidInput(
            f"Version {uid} cannot be restored: its files are gone from the warehouse ({folder}). Restore "
            "another version, or publish again.",
            error_code="version_not_restorable",
        )
    now = utcnow()
    restored = DatasetVersion(
        uid=new_uid("ch"),
        dataset_uid=dataset_uid,
        created_at=now,
        sections=["data"],
        data_uid=old.data_uid,
        files=list(old.files),
        fields=list(old.fields),
        records_count=old.records_count,
        size_bytes=old.size_bytes,
        errors_count=old.errors_count,
        sources=list(old.sources),
        config_hash=old.config_hash,
        restored_from=old.uid,
    )
    session.add(restored)
    dataset.current_version_uid = restored.uid
    dataset.is_published = True
    dataset.published_at = now
    dataset.updated_at = now
    _describe_served(dataset, old, restored.uid)
    session.flush()
    return dataset


def _describe_served(dataset: Dataset, old: DatasetVersion, restored_uid: str) -> None:
    """The status and its figures describe the version now served, not the last run's: that run's
    message and its conversion errors belong to the version just replaced. A version keeps only its
    count of conversion errors, so the list is emptied and the message gives the count."""
    errors = old.errors_count or 0
    note = f" {errors} value(s) did not convert when it was published and are null." if errors else ""
    set_status(
        dataset,
        "idle",
        f"Restored version {old.uid} as version {restored_uid}: {old.records_count} records served.{note}",
    )
    dataset.records_done = old.records_count or 0
    dataset.errors_count = errors
    dataset.records_errors = []
    dataset.bytes_done = 0
    dataset.bytes_total = None


def public(version: DatasetVersion, dataset: Dataset, settings: Settings) -> dict[str, Any]:
    is_current = dataset.current_version_uid == version.uid
    exists = Warehouse(settings).version_dir(version.dataset_uid, version.data_uid).is_dir()
    return {
        "uid": version.uid,
        "sections": version.sections,
        "created_by": None,
        "can_restore": exists and not is_current,
        "created_at": version.created_at,
        # Beyond the reference: what the version holds.
        "is_current": is_current,
        "records_count": version.records_count,
        "size_bytes": version.size_bytes,
        "errors_count": version.errors_count,
        "files": version.files,
        "sources": version.sources,
        "restored_from": version.restored_from,
    }
