"""Harvesters: create, read, update, delete, checked where they are given, and their public shape.

The URL is checked as a resource's datasource is (``datasets/locate.py``: parsed, inside the
connection's scope, a saved connection only where the caller may reuse it) and must name many objects:
a prefix (``bucket/exports/``) or, in object mode, a glob. Folder mode takes a prefix only: each
first-level folder under it becomes a dataset whose source is that folder's prefix.
"""

from __future__ import annotations

from collections.abc import Collection
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets import locate, schedules
from datawharf.datasets.datasource import parse_datasource
from datawharf.datasets.metadata import normalize_metadata
from datawharf.errors import InvalidInput, NotFound
from datawharf.extract import params as extractor_params
from datawharf.extract.registry import EXTRACTORS
from datawharf.harvest import naming
from datawharf.settings import Settings
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import HarvestedDataset, Harvester

MODES = ("object", "folder")
HARVESTER_TYPE = "amazon_s3"


@dataclass
class HarvesterConfig:
    """What a face gives (create: every field; update: the ones to change, others ``None``)."""

    name: str | None = None
    url: str | None = None
    connection_uid: str | None = None
    mode: str | None = None
    extractor_type: str | None = None
    params: dict[str, Any] | None = None
    dataset_id_template: str | None = None
    title_template: str | None = None
    restrict_datasets_visibility: bool | None = None
    forced_metas: dict[str, Any] | None = None
    cron_schedule: str | None = None
    updated_by: str | None = None  # who asks (an API key's name): shown as the reference's updated_by


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, error_code="invalid_harvester", detail={field: [message]})


def target_of(session: Session, settings: Settings, harvester: Harvester) -> locate.Target:
    """The harvester's prefix or glob, resolved (no request): what a pass lists."""
    datasource = {
        "type": "amazon_s3",
        "url": harvester.url,
        "connection": {"uid": harvester.connection_uid} if harvester.connection_uid else None,
    }
    # The connection was checked against the creator's permissions when it was given.
    return locate.resolve(session, settings, parse_datasource(datasource), permissions=["edit_domain"])


def _check(session: Session, settings: Settings, harvester: Harvester, permissions: Collection[str]) -> None:
    if harvester.mode not in MODES:
        raise _invalid(f"Unknown mode {harvester.mode!r}: use 'object' or 'folder'.", "mode")
    if harvester.extractor_type and harvester.extractor_type not in EXTRACTORS:
        raise _invalid(
            f"Unknown extractor type {harvester.extractor_type!r}: known ones are "
            f"{', '.join(sorted(EXTRACTORS))}.",
            "extractor_type",
        )
    harvester.params = extractor_params.check_params(harvester.extractor_type or None, harvester.params)
    naming.check_template(harvester.dataset_id_template, "dataset_id_template")
    naming.check_template(harvester.title_template, "title_template")
    if harvester.forced_metas:
        if not isinstance(harvester.forced_metas, dict) or not all(
            isinstance(fields, dict) for fields in harvester.forced_metas.values()
        ):
            raise _invalid(
                'forced_metas is {"template": {"field": value}}, e.g. {"default": {"publisher": "City"}}.',
                "forced_metas",
            )
        normalize_metadata(as_metadata(harvester.forced_metas))  # the same checks as a dataset's metadata
    if harvester.cron_schedule:
        harvester.cron_schedule = schedules.check_cron(harvester.cron_schedule)
    datasource = {
        "type": "amazon_s3",
        "url": harvester.url,
        "connection": {"uid": harvester.connection_uid} if harvester.connection_uid else None,
    }
    target = locate.resolve(session, settings, parse_datasource(datasource), permissions=permissions)
    if target.pattern is None:
        raise _invalid(
            f"{harvester.url!r} names one object: a harvester needs a prefix (bucket/exports/) or a glob "
            "(bucket/exports/*.csv) whose objects each become a dataset.",
            "url",
        )
    if harvester.mode == "folder" and target.pattern.listing_prefix != target.pattern.key:
        raise _invalid(
            "Folder mode takes a prefix (bucket/exports/), not a glob: each folder under it becomes a "
            "dataset of every object in that folder.",
            "url",
        )


def as_metadata(forced_metas: dict[str, Any]) -> dict[str, Any]:
    """The reference's ``forced_metas`` (plain values) in the stored metadata form (``{"value": ...}``)."""
    return {
        template: {name: {"value": value} for name, value in fields.items()}
        for template, fields in (forced_metas or {}).items()
    }


def _apply(harvester: Harvester, config: HarvesterConfig) -> None:
    for name in HarvesterConfig.__dataclass_fields__:
        value = getattr(config, name)
        if value is not None:
            setattr(harvester, name, value)
    if config.connection_uid == "":
        harvester.connection_uid = None
    if config.cron_schedule == "":
        harvester.cron_schedule = None


def reschedule(harvester: Harvester) -> None:
    """``next_run_at`` from the schedule, on the schedule's timezone (``harvest/schedules.py``)."""
    harvester.next_run_at = (
        schedules.next_run(harvester.cron_schedule, utcnow(), harvester.schedule_timezone or "UTC")
        if harvester.cron_schedule
        else None
    )


def create_harvester(
    session: Session, settings: Settings, config: HarvesterConfig, *, permissions: Collection[str]
) -> Harvester:
    if not config.name or not config.url:
        raise _invalid(
            "A harvester needs a name and a url (a prefix or a glob).", "url" if config.name else "name"
        )
    harvester = Harvester(
        uid=new_uid("hv"),
        name=config.name,
        url=config.url,
        mode="object",
        params={},
        dataset_id_template="{path}",
        title_template="{path}",
        restrict_datasets_visibility=False,
        forced_metas={},
        status="idle",
        last_report={},
        resource_errors={},
        remote_count=0,
        schedule_timezone="UTC",
    )
    _apply(harvester, config)
    _check(session, settings, harvester, permissions)
    reschedule(harvester)
    session.add(harvester)
    session.flush()
    return harvester


def update_harvester(
    session: Session, settings: Settings, uid: str, config: HarvesterConfig, *, permissions: Collection[str]
) -> Harvester:
    """Later passes use the new settings; datasets already made keep their resource as it was made."""
    harvester = get_harvester(session, uid)
    _apply(harvester, config)
    _check(session, settings, harvester, permissions)
    if config.cron_schedule is not None:
        reschedule(harvester)
    harvester.updated_at = utcnow()
    session.flush()
    return harvester


def merged(
    session: Session, settings: Settings, uid: str, config: HarvesterConfig, *, permissions: Collection[str]
) -> Harvester:
    """The saved harvester with ``config`` over it, checked as an update is, but never saved: a
    detached copy (what ``unsaved_preview`` shows)."""
    saved = get_harvester(session, uid)
    copy = Harvester(
        **{column.key: deepcopy(getattr(saved, column.key)) for column in Harvester.__mapper__.column_attrs}
    )
    _apply(copy, config)
    _check(session, settings, copy, permissions)
    return copy


def get_harvester(session: Session, uid: str, *, for_update: bool = False) -> Harvester:
    query = select(Harvester).where(Harvester.uid == uid)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    harvester = session.scalars(query).one_or_none()
    if harvester is None:
        raise NotFound(
            f"No harvester with uid {uid!r}. List them with GET /api/automation/v1.0/harvesters/ or "
            "'datawharf harvesters list'.",
            error_code="harvester_not_found",
        )
    return harvester


def list_harvesters(session: Session, *, limit: int, offset: int) -> tuple[int, list[Harvester]]:
    total = session.scalar(select(func.count()).select_from(Harvester)) or 0
    rows = session.scalars(
        select(Harvester).order_by(Harvester.created_at, Harvester.uid).limit(limit).offset(offset)
    )
    return total, list(rows)


def delete_harvester(session: Session, uid: str) -> None:
    """The harvester and its key -> dataset map; the datasets it made stay (they are the user's now)."""
    session.delete(get_harvester(session, uid))
    session.flush()


def counts(session: Session, harvester: Harvester) -> dict[str, int]:
    """The reference's counters: datasets attached (made and still there) and published."""
    uids = select(HarvestedDataset.dataset_uid).where(HarvestedDataset.harvester_uid == harvester.uid)
    attached = session.scalar(select(func.count()).select_from(Dataset).where(Dataset.uid.in_(uids))) or 0
    published = (
        session.scalar(
            select(func.count()).select_from(Dataset).where(Dataset.uid.in_(uids), Dataset.is_published)
        )
        or 0
    )
    return {"attached": attached, "published": published}


def public(session: Session, harvester: Harvester) -> dict[str, Any]:
    """The reference ``Harvester`` shape (its ``amazon_s3`` type is datawharf's own), no secret in it."""
    made = counts(session, harvester)
    report = harvester.last_report or {}
    return {
        "uid": harvester.uid,
        "type": HARVESTER_TYPE,
        "name": harvester.name,
        "status": harvester.status,
        "version": 1,
        "restrict_datasets_visibility": harvester.restrict_datasets_visibility,
        "delete_missing_datasets": False,
        "forced_metas": harvester.forced_metas or {},
        "remote_datasets_count": harvester.remote_count,
        "harvested_datasets_count": int(report.get("created", 0)) + int(report.get("refreshed", 0)),
        "published_datasets_count": made["published"],
        "attached_datasets_count": made["attached"],
        "has_error": harvester.harvester_error is not None,
        "resource_errors_count": len(harvester.resource_errors or {}),
        "created_at": harvester.created_at,
        "updated_at": harvester.updated_at,
        "updated_by": {"username": harvester.updated_by} if harvester.updated_by else {},
        "last_started_at": harvester.last_started_at,
        "last_success_at": harvester.last_success_at,
        # Beyond the reference: what an S3 harvester reads and makes.
        "url": harvester.url,
        "connection": {"uid": harvester.connection_uid} if harvester.connection_uid else None,
        "mode": harvester.mode,
        "extractor_type": harvester.extractor_type,
        "params": harvester.params or {},
        "dataset_id_template": harvester.dataset_id_template,
        "title_template": harvester.title_template,
        "cron_schedule": harvester.cron_schedule,
        "schedule_timezone": harvester.schedule_timezone or "UTC",
        "next_run_at": harvester.next_run_at,
        "last_report": report,
    }


def errors(harvester: Harvester) -> dict[str, Any]:
    """The reference ``errors`` shape: the error that stopped the last pass, and the errors by key."""
    return {"harvester": harvester.harvester_error, "resources": dict(harvester.resource_errors or {})}
