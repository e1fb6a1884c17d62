"""Versions: every publish writes one; restoring an older one makes a new version that points at the
older files (the reference: "restoring will not erase the versions history").

Old versions go by request (``delete_version``, never the current one) or by the retention setting
``versions_keep``, applied in each successful publish's transaction (``apply_retention``). Several
versions may share one data folder (a restore points at the files of the version it restores), so a
folder is removed only when no remaining version points at it. The rows go first, then the folders: a process
killed in between leaves folders that nothing references, which the warehouse sweep removes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets import incremental
from datawharf.datasets.metadata_edits import mark_published
from datawharf.datasets.service import RESTING, get_dataset, require_status, set_status
from datawharf.errors import Conflict, InvalidInput, NotFound
from datawharf.settings import Settings
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, DatasetVersion
from datawharf.store.warehouse import make_warehouse


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
    warehouse = make_warehouse(settings)
    gone = [
        warehouse.version_path(dataset_uid, f)
        for f in sorted(incremental.folders_of(old.data_uid, old.files))
        if not warehouse.version_exists(dataset_uid, f)
    ]
    if gone:  # its own folder, or one whose parts it shares (incremental.py)
        folder = gone[0]
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
    session.flush()
    incremental.copy_objects(session, old.uid, restored.uid)  # an incremental publish diffs against them
    dataset.current_version_uid = restored.uid
    dataset.is_published = True
    dataset.published_at = now
    dataset.updated_at = now
    mark_published(dataset)
    _describe_served(dataset, old, restored.uid)
    session.flush()
    return dataset


def delete_version(session: Session, settings: Settings, dataset_uid: str, uid: str) -> None:
    """Delete one version and, when no other version shares them, its files; commits."""
    dataset = get_dataset(session, dataset_uid, for_update=True)
    version = get_version(session, dataset_uid, uid)
    if dataset.current_version_uid == version.uid:
        raise Conflict(
            f"Version {uid} is the current version of dataset {dataset.dataset_id!r}: it cannot be "
            "deleted. Publish or restore another version first, then delete this one.",
            error_code="version_is_current",
            detail={"version_uid": uid},
        )
    data_uids = _delete_rows(session, [version])
    session.commit()
    remove_unreferenced_files(session, settings, dataset_uid, data_uids)


def apply_retention(session: Session, settings: Settings, dataset: Dataset) -> set[str]:
    """Delete the version rows beyond the ``versions_keep`` newest (never the current one).

    Runs in the publish's transaction, under the dataset's row lock as a restore does, so that the
    status that says "published" already lists the kept versions only, and a version being restored
    is either still there (its files then shared by the restored version, so they stay) or already
    gone. Returns the data folders to hand to ``remove_unreferenced_files`` once committed.
    """
    if settings.versions_keep == 0:
        return set()
    newest_first = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_uid == dataset.uid)
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.uid)
    )
    doomed = [v for v in list(newest_first)[settings.versions_keep :] if v.uid != dataset.current_version_uid]
    return _delete_rows(session, doomed)


def _delete_rows(session: Session, doomed: list[DatasetVersion]) -> set[str]:
    """Deletes the versions' rows; returns every folder they used (theirs, and those they refer to)."""
    incremental.delete_objects(session, [v.uid for v in doomed])
    for version in doomed:
        session.delete(version)
    session.flush()
    return incremental.referenced_folders((v.data_uid, list(v.files)) for v in doomed)


def remove_unreferenced_files(
    session: Session, settings: Settings, dataset_uid: str, data_uids: set[str]
) -> None:
    """Remove the data folders among ``data_uids`` that no version (committed) points at any more:
    neither as its own folder nor through a part it shares (``incremental.folders_of``)."""
    if not data_uids:
        return
    query = select(DatasetVersion.data_uid, DatasetVersion.files).where(
        DatasetVersion.dataset_uid == dataset_uid
    )
    shared = incremental.referenced_folders((data_uid, files) for data_uid, files in session.execute(query))
    warehouse = make_warehouse(settings)
    for data_uid in data_uids - shared:
        warehouse.discard(warehouse.version_path(dataset_uid, data_uid))


def recorded_bytes(session: Session) -> int:
    """The bytes the versions' files take, by the database (the S3 warehouse's size cap): each data
    folder counted once, however many versions (restores) share it."""
    folders = (
        select(
            DatasetVersion.dataset_uid,
            DatasetVersion.data_uid,
            func.max(DatasetVersion.size_bytes).label("size"),
        )
        .group_by(DatasetVersion.dataset_uid, DatasetVersion.data_uid)
        .subquery()
    )
    return int(session.scalar(select(func.coalesce(func.sum(folders.c.size), 0))) or 0)


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
    warehouse = make_warehouse(settings)
    exists = all(
        warehouse.version_exists(version.dataset_uid, f)
        for f in incremental.folders_of(version.data_uid, version.files)
    )
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
