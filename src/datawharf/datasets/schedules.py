"""Schedules: unix cron expressions (five fields, evaluated in UTC) that republish a dataset when its
objects changed. The scheduling pass (``scheduler.py``) queues those whose ``next_run_at`` has passed.

The cron and timezone checks, the next-run reckoning and the public shape are shared with the
harvesters' schedules (``harvest/schedules.py``), which add a timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import Options, get_description
from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets.service import get_dataset
from datawharf.errors import InvalidInput, NotFound
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import DatasetSchedule


def check_cron(expression: str) -> str:
    expression = " ".join(str(expression).split())
    if len(expression.split(" ")) != 5 or not croniter.is_valid(expression):
        raise InvalidInput(
            f"Invalid cron_schedule {expression[:100]!r}: use the five unix-cron fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 * * * *' (every hour).",
            error_code="invalid_cron_schedule",
            detail={"cron_schedule": ["not a five-field unix cron expression"]},
        )
    return expression


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown timezone {name[:100]!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'.",
            error_code="invalid_timezone",
            detail={"timezone": ["not an IANA timezone name"]},
        ) from None
    return name


def next_run(expression: str, after: datetime, timezone: str = "UTC") -> datetime:
    """The next time after ``after`` that ``expression`` names, read on ``timezone``'s clock (so that
    "0 3 * * *" in Europe/Berlin stays at 03:00 there across daylight saving), as UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    result: datetime = croniter(expression, local).get_next(datetime)
    return result.astimezone(UTC)


def get_schedule(session: Session, dataset_uid: str, uid: str) -> DatasetSchedule:
    schedule = session.get(DatasetSchedule, uid)
    if schedule is None or schedule.dataset_uid != dataset_uid:
        raise NotFound(
            f"No schedule {uid!r} in dataset {dataset_uid!r}: list them with GET "
            f"/datasets/{dataset_uid}/schedules/.",
            error_code="schedule_not_found",
        )
    return schedule


def list_schedules(
    session: Session, dataset_uid: str, *, limit: int, offset: int
) -> tuple[int, list[DatasetSchedule]]:
    get_dataset(session, dataset_uid)
    where = DatasetSchedule.dataset_uid == dataset_uid
    total = session.scalar(select(func.count()).select_from(DatasetSchedule).where(where)) or 0
    query = select(DatasetSchedule).where(where).order_by(DatasetSchedule.created_at, DatasetSchedule.uid)
    return total, list(session.scalars(query.limit(limit).offset(offset)))


def create_schedule(session: Session, dataset_uid: str, cron_schedule: str) -> DatasetSchedule:
    get_dataset(session, dataset_uid)
    expression = check_cron(cron_schedule)
    schedule = DatasetSchedule(
        uid=new_uid("sc"),
        dataset_uid=dataset_uid,
        cron_schedule=expression,
        next_run_at=next_run(expression, utcnow()),
    )
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(session: Session, dataset_uid: str, uid: str, cron_schedule: str) -> DatasetSchedule:
    schedule = get_schedule(session, dataset_uid, uid)
    schedule.cron_schedule = check_cron(cron_schedule)
    schedule.next_run_at = next_run(schedule.cron_schedule, utcnow())
    schedule.updated_at = utcnow()
    session.flush()
    return schedule


def delete_schedule(session: Session, dataset_uid: str, uid: str) -> None:
    session.delete(get_schedule(session, dataset_uid, uid))
    session.flush()


def describe_cron(expression: str) -> str | None:
    """A cron expression read in words, 24-hour clock ("0 3 * * *" -> "At 03:00, every day")."""
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = True
    try:
        return str(get_description(expression, options))
    except Exception:  # cron-descriptor's own error types vary by version; a description is optional
        return None


def shown(
    uid: str, cron_schedule: str, next_run_at: datetime | None, last_run_at: datetime | None, **more: Any
) -> dict[str, Any]:
    """A schedule as the reference shows it (``uid``, ``cron_schedule``, and ``more`` of its fields:
    a harvester's ``timezone``), with datawharf's reading of it beside."""
    return {
        "uid": uid,
        "cron_schedule": cron_schedule,
        **more,
        # Beyond the reference:
        "description": describe_cron(cron_schedule),
        "next_run_at": next_run_at,
        "last_run_at": last_run_at,
    }


def public(schedule: DatasetSchedule) -> dict[str, Any]:
    return shown(schedule.uid, schedule.cron_schedule, schedule.next_run_at, schedule.last_run_at)
