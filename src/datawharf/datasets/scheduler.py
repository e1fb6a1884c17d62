"""The scheduling pass: every due schedule queues one publish, however many processes run the pass.

Each process that runs a scheduler (every ``datawharf serve``, later a periodic task on a worker) makes
the same pass on the same database, so the pass is written for company:

- the due schedules are read fresh and locked in one transaction: ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (a schedule another pass holds is left to it), SQLite's write lock (``BEGIN IMMEDIATE``)
  taken before the read;
- due-ness is checked again on the locked row, and ``next_run_at`` moves past ``now`` in the same
  transaction as the publish it queues: a second pass, once the first commits, finds nothing due;
- the dataset is read fresh under its own lock, and only a resting dataset gets a run, so the
  ``run_uid`` of a queued or running publish is never replaced.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from datawharf.datasets import control, schedules
from datawharf.datasets.service import RESTING, get_dataset
from datawharf.errors import DatawharfError
from datawharf.store.db import Database
from datawharf.store.models.datasets import DatasetSchedule

log = logging.getLogger("datawharf.datasets")


def queue_due_schedules(database: Database, now: datetime) -> list[tuple[str, str]]:
    """One pass: the ``(dataset_uid, run_uid)`` of every publish it queued (committed on return)."""
    queued: list[tuple[str, str]] = []
    with database.session(write_lock=True) as session:
        due = session.scalars(
            select(DatasetSchedule)
            .where(DatasetSchedule.next_run_at <= now)
            .order_by(DatasetSchedule.next_run_at)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        for schedule in list(due):
            due_at = control.aware(schedule.next_run_at)
            if due_at is None or due_at > now:
                continue  # moved on by a pass that committed since the statement began
            schedule.last_run_at = now
            schedule.next_run_at = schedules.next_run(schedule.cron_schedule, now)
            try:
                dataset = get_dataset(session, schedule.dataset_uid, for_update=True)
                if dataset.status not in RESTING:
                    continue  # a run is queued or going: this one would only replace its run_uid
                control.request_publish(
                    session,
                    dataset.uid,
                    only_if_changed=True,
                    max_attempts=database.settings.run_max_attempts,
                )
            except DatawharfError as exc:  # a refusal (no resource...): the others' schedules go on
                log.warning("scheduled publish of %s not started: %s", schedule.dataset_uid, exc.message)
                continue
            except Exception:  # a bug: logged with its trace, and still no reason to stop the others
                log.exception("scheduled publish of %s failed to start", schedule.dataset_uid)
                continue
            if dataset.run_uid:
                queued.append((dataset.uid, dataset.run_uid))
    return queued
