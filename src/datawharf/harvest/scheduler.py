"""Due harvesters, claimed once however many processes run the scheduling pass.

As ``datasets/scheduler.py``: the due rows are locked (``FOR UPDATE SKIP LOCKED`` / SQLite's write
lock), checked again, and ``next_run_at`` moves past ``now`` in the same transaction that claims them;
the pass itself then runs outside that transaction (``harvest.run_harvest``, which takes its own lock).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from datawharf.datasets import control, schedules
from datawharf.harvest.harvest import Submit, run_harvest
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.harvesters import Harvester

log = logging.getLogger("datawharf.harvest")


def claim_due_harvesters(database: Database, now: datetime) -> list[str]:
    claimed: list[str] = []
    with database.session(write_lock=True) as session:
        due = session.scalars(
            select(Harvester)
            .where(Harvester.next_run_at.is_not(None), Harvester.next_run_at <= now)
            .order_by(Harvester.next_run_at)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        for harvester in list(due):
            due_at = control.aware(harvester.next_run_at)
            if due_at is None or due_at > now or not harvester.cron_schedule:
                continue
            harvester.next_run_at = schedules.next_run(
                harvester.cron_schedule, now, harvester.schedule_timezone or "UTC"
            )
            claimed.append(harvester.uid)
    return claimed


def run_due_harvesters(database: Database, settings: Settings, now: datetime, submit: Submit) -> list[str]:
    """Claim the due harvesters and run each one's pass; one failing stops none of the others."""
    claimed = claim_due_harvesters(database, now)
    for uid in claimed:
        try:
            run_harvest(database, settings, uid, submit)
        except Exception:
            log.exception("scheduled harvest of %s failed", uid)
    return claimed
