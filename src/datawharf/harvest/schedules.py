"""A harvester's schedules, the reference's ``/harvesters/{uid}/schedules/`` routes over the harvester's
own schedule (``cron_schedule`` + ``schedule_timezone``).

A harvester has at most one schedule: one pass lists everything and refreshes "if changed", so a second
cron would only make the same pass at other times (a cron expression already names several times a
day). Its uid is made from the harvester's (``sc_<harvester uid without hv_>``), stable across updates;
creating a second one is refused (``harvester_schedule_exists``: update or delete the first). The cron
and timezone checks and the public shape are the dataset schedules' (``datasets/schedules.py``); the
harvesters' scheduling pass (``harvest/scheduler.py``) reads the same columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from datawharf.datasets import schedules
from datawharf.errors import Conflict, NotFound
from datawharf.harvest.service import get_harvester, reschedule
from datawharf.store.models import utcnow
from datawharf.store.models.harvesters import Harvester


def schedule_uid(harvester: Harvester) -> str:
    return "sc_" + harvester.uid.removeprefix("hv_")


def _scheduled(session: Session, harvester_uid: str, uid: str) -> Harvester:
    harvester = get_harvester(session, harvester_uid, for_update=True)
    if harvester.cron_schedule is None or uid != schedule_uid(harvester):
        raise NotFound(
            f"No schedule {uid!r} in harvester {harvester_uid!r}: list them with GET "
            f"/harvesters/{harvester_uid}/schedules/.",
            error_code="schedule_not_found",
        )
    return harvester


def list_schedules(session: Session, harvester_uid: str) -> list[dict[str, Any]]:
    harvester = get_harvester(session, harvester_uid)
    return [public(harvester)] if harvester.cron_schedule else []


def get_schedule(session: Session, harvester_uid: str, uid: str) -> dict[str, Any]:
    return public(_scheduled(session, harvester_uid, uid))


def create_schedule(
    session: Session, harvester_uid: str, cron_schedule: str, timezone: str
) -> dict[str, Any]:
    harvester = get_harvester(session, harvester_uid, for_update=True)
    if harvester.cron_schedule:
        raise Conflict(
            f"Harvester {harvester.name!r} already has a schedule ({harvester.cron_schedule!r}, "
            f"{harvester.schedule_timezone}): a harvester has one; update it with PUT "
            f"/harvesters/{harvester_uid}/schedules/{schedule_uid(harvester)}/ or delete it first.",
            error_code="harvester_schedule_exists",
            detail={"schedule_uid": schedule_uid(harvester)},
        )
    return _set(session, harvester, cron_schedule, timezone)


def update_schedule(
    session: Session, harvester_uid: str, uid: str, cron_schedule: str, timezone: str
) -> dict[str, Any]:
    return _set(session, _scheduled(session, harvester_uid, uid), cron_schedule, timezone)


def delete_schedule(session: Session, harvester_uid: str, uid: str) -> None:
    harvester = _scheduled(session, harvester_uid, uid)
    harvester.cron_schedule = None
    reschedule(harvester)
    harvester.updated_at = utcnow()
    session.flush()


def _set(session: Session, harvester: Harvester, cron_schedule: str, timezone: str) -> dict[str, Any]:
    harvester.cron_schedule = schedules.check_cron(cron_schedule)
    harvester.schedule_timezone = schedules.check_timezone(timezone)
    reschedule(harvester)
    harvester.updated_at = utcnow()
    session.flush()
    return public(harvester)


def public(harvester: Harvester) -> dict[str, Any]:
    """The reference's ``HarvesterSchedule`` (``uid``, ``cron_schedule``, ``timezone``) and ours beside."""
    assert harvester.cron_schedule is not None
    return schedules.shown(
        schedule_uid(harvester),
        harvester.cron_schedule,
        harvester.next_run_at,
        harvester.last_started_at,
        timezone=harvester.schedule_timezone,
    )
