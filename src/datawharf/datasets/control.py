"""Publish, abort, unpublish, status: the requests a face makes, checked against the state machine.

A run is identified by ``run_uid`` and has a row in the runs table (``jobs/runs.py``) beside the
dataset's public status fields, which mirror it. Requesting a publish moves the dataset to ``queued``
with a new ``run_uid`` and creates the run; a worker then claims it (the run ``queued`` -> ``running``
with the next attempt number, the dataset ``queued`` -> ``processing``, in one transaction), so a run is
executed once even if two processes see it queued, and every later write of the run is fenced on its
attempt. Abort is a status too (the run's ``abort_requested``, the dataset's ``aborting_processing``), so
it reaches a run in whichever process executes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from datawharf.datasets.service import RESTING, InvalidDatasetStatus, get_dataset, require_status, set_status
from datawharf.errors import InvalidInput
from datawharf.jobs import runs
from datawharf.jobs.runs import Attempt
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, Resource
from datawharf.store.models.runs import Run

PUBLISH = "publish"  # the runs' kind
PUBLISH_PART = "publish_part"  # a slice of a publish spread over workers (parts.py)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def request_publish(
    session: Session, dataset_uid: str, *, only_if_changed: bool = False, max_attempts: int = 1
) -> Dataset:
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
    _reset_progress(dataset)
    session.flush()
    runs.create_run(session, PUBLISH, dataset_uid, run_uid=dataset.run_uid, max_attempts=max_attempts)
    return dataset


def _reset_progress(dataset: Dataset) -> None:
    dataset.run_worker = None
    dataset.heartbeat_at = None
    dataset.records_errors = []
    dataset.errors_count = 0
    dataset.bytes_done = 0
    dataset.bytes_total = None
    dataset.records_done = 0


def claim_run(session: Session, dataset_uid: str, run_uid: str, worker: str) -> Attempt | None:
    """The run ``queued`` -> ``running`` (its next attempt) and the dataset ``queued`` -> ``processing``,
    in the caller's transaction; None if another worker has it or it was aborted before it started."""
    attempt = runs.claim(session, run_uid, worker)
    if attempt is None:
        return None
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
    if not result.rowcount:  # type: ignore[attr-defined]  # the dataset moved on (deleted, replaced)
        runs.finish(session, attempt, "aborted", "The dataset no longer waits for this run.")
        return None
    return attempt


def request_abort(session: Session, dataset_uid: str) -> Dataset:
    dataset = get_dataset(session, dataset_uid, for_update=True)
    require_status(dataset, ("queued", "processing"), "abort")
    if dataset.run_uid is not None:
        runs.request_abort(session, dataset.run_uid)
    if dataset.status == "queued":
        # Nobody runs it yet: stop here (a worker's claim then fails on the run's status).
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


INTERRUPTED = (
    "The publish was interrupted (the process running it stopped). The previous version is still "
    "served; publish again."
)


def recover_runs(
    session: Session, stale_seconds: float, is_dead: Callable[[str | None], bool]
) -> list[tuple[str, str, str]]:
    """The publishes whose worker is gone, mirrored on their datasets: called at start and by every
    scheduler pass. A run with attempts left is queued again (the dataset too: the caller submits it),
    the others end in ``error`` (never left "processing"). ``is_dead(worker)`` knows which workers of
    this host are gone; a heartbeat older than ``stale_seconds`` (database clock) means gone wherever
    the worker was. Returns ``(kind, dataset_uid, run_uid)`` of the runs to submit again: publishes, and
    the parts of publishes spread over workers (``parts.py``), whose coordinator waits for them."""
    retry: list[tuple[str, str, str]] = []
    for run_uid, outcome in runs.recover_stale(session, stale_seconds, is_dead=is_dead):
        run = session.get(Run, run_uid)
        if run is None:
            continue
        if run.kind == PUBLISH_PART:
            if outcome == "retried":
                retry.append((run.kind, run.subject_uid, run_uid))
            continue
        if run.kind != PUBLISH:
            continue  # another domain's run (a harvest pass): its own recovery
        dataset = session.get(Dataset, run.subject_uid, with_for_update=True)
        if dataset is None or dataset.run_uid != run_uid:
            continue
        if outcome == "retried":
            set_status(
                dataset,
                "queued",
                f"The worker running the publish stopped; it is retried (attempt {run.attempt + 1} of "
                f"{run.max_attempts}).",
            )
            _reset_progress(dataset)
            retry.append((PUBLISH, dataset.uid, run_uid))
        elif outcome == "aborted":
            set_status(dataset, "idle", "Publish aborted; the previous version (if any) is still served.")
            dataset.run_uid = None
        else:
            set_status(dataset, "error", INTERRUPTED)
            dataset.run_uid = None
    _recover_orphans(session, stale_seconds, is_dead)
    runs.abort_orphans(session)
    session.flush()
    return retry


def _recover_orphans(session: Session, stale_seconds: float, is_dead: Callable[[str | None], bool]) -> None:
    """Datasets running without a live run row: left by a version before the runs table (judged as it
    judged them: a dead worker of this host, or the dataset's own heartbeat gone stale), or whose run
    ended without them (failed). A queued one without a row gets one, so a worker can claim it."""
    now = utcnow()
    query = select(Dataset).where(
        Dataset.status.in_(("queued", "processing", "saving_version", "aborting_processing"))
    )
    for dataset in session.scalars(query):
        run = session.get(Run, dataset.run_uid) if dataset.run_uid else None
        if run is not None and run.status in (*runs.LIVE, "queued"):
            continue
        if run is None and dataset.status == "queued":
            if dataset.run_uid is not None:
                runs.create_run(session, PUBLISH, dataset.uid, run_uid=dataset.run_uid, max_attempts=1)
            continue
        heartbeat = aware(dataset.heartbeat_at)
        stale = heartbeat is None or (now - heartbeat).total_seconds() > stale_seconds
        if run is not None or stale or is_dead(dataset.run_worker):
            set_status(dataset, "error", INTERRUPTED)
            dataset.run_uid = None
