"""A dataset's metadata through the reference's routes: the draft edited whole, by template or by field,
and ``publish_metadata``, which makes the draft what the Explore API shows.

Every edit changes the draft (``Dataset.metadata_``) only; ``mark_published`` copies it to
``Dataset.published_metadata``, on ``publish_metadata`` and on every publish of the data (publish.py,
versions.py), as Opendatasoft publishes metadata with the data.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from datawharf.datasets import metadata
from datawharf.datasets.service import RESTING, InvalidDatasetStatus, get_dataset, require_status
from datawharf.store.models import utcnow
from datawharf.store.models.datasets import Dataset


def mark_published(dataset: Dataset) -> None:
    """The draft becomes the metadata the Explore API shows."""
    dataset.published_metadata = copy.deepcopy(dataset.metadata_)


def _save(session: Session, dataset: Dataset, draft: dict[str, Any]) -> Dataset:
    dataset.metadata_ = draft
    dataset.updated_at = utcnow()
    session.flush()
    return dataset


def replace_all(session: Session, uid: str, raw: Any) -> Dataset:
    """``PUT .../metadata/``: the whole draft replaced (a template omitted is emptied)."""
    dataset = get_dataset(session, uid)
    return _save(session, dataset, metadata.normalize_metadata(raw))


def replace_template(session: Session, uid: str, template: str, fields: Any) -> Dataset:
    """``PUT .../metadata/{template}/``: one template replaced (a field omitted is unset)."""
    dataset = get_dataset(session, uid)
    return _save(session, dataset, metadata.with_template(dataset.metadata_, template, fields))


def clear_template(session: Session, uid: str, template: str) -> Dataset:
    """``DELETE .../metadata/{template}/``: every field of the template unset."""
    return replace_template(session, uid, template, {})


def set_field(session: Session, uid: str, template: str, name: str, entry: Any | None) -> Dataset:
    """``PUT`` (an entry) or ``DELETE`` (None) ``.../metadata/{template}/{name}/``."""
    return set_fields(session, uid, [(template, name, entry)])


def set_fields(session: Session, uid: str, entries: Iterable[tuple[str, str, Any | None]]) -> Dataset:
    """Several fields set (an entry) or unset (None) at once, all or none (the backoffice's form)."""
    dataset = get_dataset(session, uid)
    draft = dataset.metadata_
    for template, name, entry in entries:
        draft = metadata.with_field(draft, template, name, entry)
    return _save(session, dataset, draft)


def publish_metadata(session: Session, uid: str) -> Dataset:
    """``POST .../publish_metadata/``: the draft shown by the Explore API, without a new version.

    Refused (``invalid_dataset_status``) for a dataset that is not published, which has no Explore side
    yet (its first publish publishes its metadata too), and while a run works on it (the run's end would
    publish the draft of its start)."""
    dataset = get_dataset(session, uid, for_update=True)
    require_status(dataset, RESTING, "publish its metadata")
    if not dataset.is_published:
        raise InvalidDatasetStatus(
            f"Dataset {dataset.dataset_id!r} is not published: publish it (POST .../publish/), which "
            "publishes its metadata with its data.",
            detail={"is_published": False},
        )
    dataset.metadata_ = metadata.touch_modified(dataset.metadata_, utcnow(), on="metadata")
    mark_published(dataset)
    session.flush()
    return dataset
