"""Publish, abort, unpublish, status: the requests a face makes, checked against the state machine.

A run is identified by ``run_uid``. Requesting a publish only moves the dataset to ``queued`` with a new
``run_uid``; a worker then claims it (``queued`` -> ``processing``, conditional on the same ``run_uid``),
so a run is executed once even if two processes see it queued. Abort is a status too
(``aborting_processing``), so it reaches a run in whichever process executes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from datawharf.datasets.service import RESTING, InvalidDatasetStatus, get_dataset, require_status, set_status
from datawharf.errors import InvalidInput
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, Resource

STALE_HEARTBEAT_SECONDS = 120


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def request_publish(session: Session, dataset_uid: str, *, only_if_changed: bool = False) -> Dataset:
    dataset = get_dataset(session, dataset_uid, for_update=True)
    require_status(dataset, RESTING, "publish")
    count = session.scalar(
        select(func.count()).select_from(Resource).where(Resource.dataset_uid == dataset_uid)
    )
    if not count:
        raise InvalidInput(
            f"Dataset {dataset.dataset_id!r} has no resource to publish: add one first "
            "(POST /api/automation/v1.0/datasets/{uid}/resources/ or 'datawharf datasets create ... URL').",
            error_code="no_resource",
        )
    set_status(dataset, "queued")
    dataset.run_uid = new_uid("ru")
    dataset.run_only_if_changed = only_if_changed
    dataset.run_worker = None
    dataset.heartbeat_at = None
    dataset.records_errors = []
    dataset.errors_count = 0
    dataset.bytes_done = 0
    dataset.bytes_total = None
    dataset.records_done = 0
    session.flush()
    return dataset


def claim_run(session: Session, dataset_uid: str, run_uid: str, worker: str) -> bool:
    """``queued`` -> ``processing`` for this run, atomically; False if someone else has it or it was
    aborted before it started."""
    now = utcnow()
    result = session.execute(
        update(Dataset)
        .where(Dataset.uid == dataset_uid, Dataset.run_uid == run_uid, Dataset.status == "queued")
        .values(
            status="processing",
            status_previous="queued",
            status_since=now,
            run_worker=worker,
            heartbeat_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def request_abort(session: Session, dataset_uid: str) -> Dataset:
    dataset = get_dataset(session, dataset_uid, for_update=True)
    require_status(dataset, ("queued", "processing"), "abort")
    if dataset.status == "queued":
        # Nobody runs it yet: stop here (a worker's claim then fails on the status).
        set_status(dataset, "idle", "Publish aborted before it started.")
        dataset.run_uid = None
    else:
        set_status(dataset, "aborting_processing", "Abort requested; the run stops at its next batch.")
    session.flush()
    return dataset


def request_unpublish(session: Session, dataset_uid: str) -> Dataset:
    dataset = get_dataset(session, dataset_uid, for_update=True)
    require_status(dataset, RESTING, "unpublish")
    if not dataset.is_published:
        raise InvalidDatasetStatus(
            f"Dataset {dataset.dataset_id!r} is not published: there is nothing to unpublish.",
            detail={"is_published": False},
        )
    dataset.is_published = False
    set_status(
        dataset, dataset.status, "Unpublished: the dataset is off the Explore API; publish to bring it back."
    )
    session.flush()
    return dataset


def status_public(dataset: Dataset) -> dict[str, Any]:
    return {
        "status": dataset.status,
        "previous": dataset.status_previous,
        "next": None,
        "since": aware(dataset.status_since),
        "is_published": dataset.is_published,
        "message": dataset.status_message,
        "records_errors": dataset.records_errors or [],
        "params": {},
        # Beyond the reference: where a run stands.
        "progress": {
            "bytes_done": dataset.bytes_done,
            "bytes_total": dataset.bytes_total,
            "records_done": dataset.records_done,
            "records_errors_count": dataset.errors_count,
        },
        "run_uid": dataset.run_uid,
        "version_uid": dataset.current_version_uid,
    }


def recover_interrupted(session: Session, is_dead: Any, *, now: datetime | None = None) -> list[str]:
    """Runs whose worker is gone become ``error`` (never left "processing"): called at start and by the
    scheduler. ``is_dead(worker) -> bool`` knows which workers of this host are gone; a heartbeat older
    than ``STALE_HEARTBEAT_SECONDS`` means gone wherever the worker was."""
    now = now or utcnow()
    failed: list[str] = []
    query = select(Dataset).where(Dataset.status.in_(("processing", "saving_version", "aborting_processing")))
    for dataset in session.scalars(query):
        heartbeat = aware(dataset.heartbeat_at)
        stale = heartbeat is None or (now - heartbeat).total_seconds() > STALE_HEARTBEAT_SECONDS
        if stale or is_dead(dataset.run_worker):
            set_status(
                dataset,
                "error",
                "The publish was interrupted (the process running it stopped). The previous version is "
                "still served; publish again.",
            )
            dataset.run_uid = None
            failed.append(dataset.uid)
    session.flush()
    return failed
