"""Datasets: create, read, update, delete, and the guards of the publish state machine.

The status values and the ``invalid_dataset_status`` error are the reference's: an action allowed only in
some states says which state the dataset is in and which it needs. The values and the moves between them
are in datasets/status.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets.identifiers import check_dataset_id, slugify, with_suffix
from datawharf.datasets.metadata import normalize_metadata, title_of
from datawharf.datasets.status import RESTING, DatasetStatus, check_transition
from datawharf.datasets.status import RUNNING as RUNNING  # re-exported: the runtime and the web read it here
from datawharf.errors import InvalidInput, NotFound
from datawharf.settings import Settings
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset
from datawharf.store.warehouse import make_warehouse


class InvalidDatasetStatus(InvalidInput):
    default_code = "invalid_dataset_status"


def require_status(dataset: Dataset, allowed: Iterable[str], action: str) -> None:
    allowed = tuple(allowed)
    if dataset.status not in allowed:
        raise InvalidDatasetStatus(
            f"Invalid precondition, dataset status is '{dataset.status}' but must be one of "
            f"'{', '.join(allowed)}' to {action}.",
            detail={"status": dataset.status, "allowed": list(allowed)},
        )


def set_status(dataset: Dataset, status: DatasetStatus, message: str | None = None) -> None:
    check_transition(dataset.status, status)
    if status != dataset.status:
        dataset.status_previous = dataset.status
        dataset.status = status
        dataset.status_since = utcnow()
    dataset.status_message = message


def get_dataset(session: Session, uid: str, *, for_update: bool = False) -> Dataset:
    query = select(Dataset).where(Dataset.uid == uid)
    if for_update:
        # A fresh read: a dataset the session loaded before keeps its old attributes otherwise, and the
        # caller would decide on a status another process has since changed.
        query = query.with_for_update().execution_options(populate_existing=True)
    dataset = session.scalars(query).one_or_none()
    if dataset is None:
        raise NotFound(
            f"No dataset with uid {uid!r}. List them with GET /api/automation/v1.0/datasets/.",
            error_code="dataset_not_found",
        )
    return dataset


def find_dataset(session: Session, reference: str) -> Dataset:
    """By uid (``da_...``) or by ``dataset_id``: what the CLI accepts."""
    dataset = session.get(Dataset, reference)
    if dataset is None:
        dataset = session.scalars(select(Dataset).where(Dataset.dataset_id == reference)).one_or_none()
    if dataset is None:
        raise NotFound(
            f"No dataset with uid or dataset_id {reference!r}. List them with 'datawharf datasets list'.",
            error_code="dataset_not_found",
        )
    return dataset


def list_datasets(
    session: Session, *, limit: int, offset: int, dataset_id: str | None = None
) -> tuple[int, list[Dataset]]:
    query = select(Dataset)
    if dataset_id is not None:
        query = query.where(Dataset.dataset_id == dataset_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Dataset.created_at, Dataset.uid).limit(limit).offset(offset))
    return total, list(rows)


def _taken(session: Session, dataset_id: str, *, except_uid: str | None = None) -> bool:
    query = select(Dataset.uid).where(Dataset.dataset_id == dataset_id)
    if except_uid:
        query = query.where(Dataset.uid != except_uid)
    return session.scalar(query) is not None


def _taken_error(dataset_id: str) -> InvalidInput:
    return InvalidInput(
        f"The dataset_id {dataset_id!r} is already taken. Choose another one, or leave strict mode off "
        "to get a numbered one (-2, -3...).",
        error_code="dataset_id_taken",
        detail={"dataset_id": ["already taken"]},
    )


def _choose_dataset_id(session: Session, wanted: str | None, metadata: dict[str, Any], strict: bool) -> str:
    if wanted is not None:
        check_dataset_id(wanted)
        if not _taken(session, wanted):
            return wanted
        if strict:
            raise _taken_error(wanted)
        base = wanted
    else:
        if strict:
            raise InvalidInput(
                "A dataset_id is required in strict mode. Give one, or drop ?strict=true to have it "
                "made from the title.",
                error_code="missing_dataset_id",
                detail={"dataset_id": ["required in strict mode"]},
            )
        title = title_of(metadata)
        base = slugify(title or "") or "dataset"
    if not _taken(session, base):
        return base
    number = 2
    while _taken(session, with_suffix(base, number)):
        number += 1
    return with_suffix(base, number)


def create_dataset(
    session: Session,
    *,
    metadata: dict[str, Any] | None,
    dataset_id: str | None = None,
    is_restricted: bool = False,
    strict: bool = False,
) -> Dataset:
    clean = normalize_metadata(metadata)
    dataset = Dataset(
        uid=new_uid("da"),
        dataset_id=_choose_dataset_id(session, dataset_id, clean, strict),
        metadata_=clean,
        is_restricted=is_restricted,
        status="idle",
        status_since=utcnow(),
        records_errors=[],
    )
    session.add(dataset)
    session.flush()
    return dataset


def update_dataset(
    session: Session,
    uid: str,
    *,
    metadata: dict[str, Any] | None,
    dataset_id: str | None = None,
    is_restricted: bool | None = None,
) -> Dataset:
    dataset = get_dataset(session, uid)
    if dataset_id is not None and dataset_id != dataset.dataset_id:
        check_dataset_id(dataset_id)
        if dataset.is_published:
            raise InvalidDatasetStatus(
                "The dataset_id is frozen while the dataset is published. Unpublish it first "
                "(POST .../unpublish/), then change the dataset_id.",
                detail={"dataset_id": ["frozen while published"]},
            )
        if _taken(session, dataset_id, except_uid=uid):
            raise _taken_error(dataset_id)
        dataset.dataset_id = dataset_id
    if metadata is not None:
        dataset.metadata_ = normalize_metadata(metadata)
    if is_restricted is not None:
        dataset.is_restricted = is_restricted
    dataset.updated_at = utcnow()
    session.flush()
    return dataset


def delete_dataset(session: Session, settings: Settings, uid: str) -> None:
    """The row, its children and its warehouse folder; refused while a run owns it (abort it first)."""
    dataset = get_dataset(session, uid)
    require_status(dataset, RESTING, "delete the dataset (abort the running publish first)")
    session.delete(dataset)
    session.flush()
    make_warehouse(settings).remove_dataset(uid)
