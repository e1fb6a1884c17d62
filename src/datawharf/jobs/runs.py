"""The runs table's state machine: create, claim, fence, beat, abort, finish, hand back, recover.

Every background run (a publish) has a row in ``runs`` (``store/models/runs.py``). The guarantee is
*exactly one effect per run* although the queue delivering it is at-least-once (a retried job and a
paused worker that wakes up both run its code):

- ``claim`` moves a queued run to running and increments its ``attempt`` in one conditional UPDATE:
  of two claimers one wins; a retry is a new attempt.
- ``fence`` is the first statement of every transaction in which a run writes anything (progress, its
  failure, the version switch): it locks the run's row where ``(uid, attempt)`` still match a live
  status, and raises ``StaleAttempt`` otherwise, so a superseded attempt changes nothing and stops.
  The lock is a conditional no-op UPDATE rather than ``SELECT ... FOR UPDATE``: on PostgreSQL both
  lock the row until the commit, and SQLite (which ignores ``FOR UPDATE``) then takes its write lock
  at once, so the check and the writes after it cannot interleave with a recovery on either.
- heartbeats come from the database clock (``func.now()``), never the process's, so that machines
  whose clocks disagree judge staleness alike; ``recover_stale`` retries runs whose heartbeat stopped
  (up to ``max_attempts``) and fails the rest.

Nothing here knows what a run works on: ``subject_uid`` is the caller's (a dataset uid).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from datawharf.jobs.runner import JobAborted
from datawharf.store.models.runs import Run, RunStatus

LIVE: tuple[RunStatus, ...] = ("running", "abort_requested")
ENDED: tuple[RunStatus, ...] = ("done", "failed", "aborted")

Beat = Literal["go", "abort", "stale"]
Recovered = Literal["retried", "failed", "aborted"]


@dataclass(frozen=True)
class Attempt:
    """Who may write for a run: its uid and the attempt number its claim returned."""

    run_uid: str
    attempt: int


class StaleAttempt(JobAborted):
    """The run was retried elsewhere, recovered, finished or deleted: this attempt must stop at once and
    write nothing more (what it leaves is its own scratch, which it removes)."""

    default_code = "stale_attempt"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def database_now(session: Session) -> datetime:
    """The database's clock (UTC): the one every heartbeat is written and judged with."""
    value = session.scalar(select(func.now()))
    assert value is not None
    if isinstance(value, str):  # SQLite's CURRENT_TIMESTAMP, when the driver hands back text
        value = datetime.fromisoformat(value)
    return _utc(value)


def create_run(
    session: Session,
    kind: str,
    subject_uid: str,
    *,
    run_uid: str,
    max_attempts: int,
    parent_uid: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """A queued run; a part of another run names its ``parent_uid`` and carries its ``payload``."""
    session.add(
        Run(
            uid=run_uid,
            kind=kind,
            subject_uid=subject_uid,
            parent_uid=parent_uid,
            payload=payload,
            attempt=0,
            max_attempts=max(1, max_attempts),
            status="queued",
            progress={},
        )
    )
    session.flush()


def get_run(session: Session, run_uid: str) -> Run | None:
    return session.get(Run, run_uid)


def claim(session: Session, run_uid: str, worker: str) -> Attempt | None:
    """``queued`` -> ``running`` with the next attempt number; None if the run is not queued (claimed by
    another worker, aborted before it started, finished, unknown)."""
    attempt = session.execute(
        update(Run)
        .where(Run.uid == run_uid, Run.status == "queued")
        .values(
            status="running",
            attempt=Run.attempt + 1,
            worker=worker,
            heartbeat_at=func.now(),
            started_at=func.now(),
            error=None,
        )
        .returning(Run.attempt)
    ).scalar()
    return None if attempt is None else Attempt(run_uid, attempt)


def fence(session: Session, attempt: Attempt) -> RunStatus:
    """Lock the run's row for this transaction if ``attempt`` is still its live attempt; otherwise raise
    ``StaleAttempt``. Returns the run's status (``running`` or ``abort_requested``)."""
    status = session.execute(
        update(Run)
        .where(Run.uid == attempt.run_uid, Run.attempt == attempt.attempt, Run.status.in_(LIVE))
        .values(attempt=Run.attempt)
        .returning(Run.status)
    ).scalar()
    if status is None:
        raise StaleAttempt(
            f"Run {attempt.run_uid} attempt {attempt.attempt} is no longer the live attempt (it was retried, "
            "recovered or finished elsewhere); it stops without writing."
        )
    return status


def beat(session: Session, attempt: Attempt, progress: dict[str, Any]) -> Beat:
    """The fenced heartbeat: ``go`` on, ``abort`` when an abort was requested, ``stale`` when this
    attempt lost the run (then nothing was written)."""
    try:
        status = fence(session, attempt)
    except StaleAttempt:
        return "stale"
    session.execute(
        update(Run).where(Run.uid == attempt.run_uid).values(heartbeat_at=func.now(), progress=progress)
    )
    return "abort" if status == "abort_requested" else "go"


def request_abort(session: Session, run_uid: str) -> RunStatus | None:
    """Ask a run to stop: a queued one is aborted at once (its claim then fails), a running one is
    ``abort_requested`` (its next beat sees it). Returns the run's status after, None if unknown."""
    run = session.scalars(select(Run).where(Run.uid == run_uid).with_for_update()).one_or_none()
    if run is None:
        return None
    if run.status == "queued":
        run.status = "aborted"
        run.finished_at = database_now(session)
    elif run.status == "running":
        run.status = "abort_requested"
    session.flush()
    return run.status


def finish(
    session: Session,
    attempt: Attempt,
    status: RunStatus,
    error: str | None = None,
    *,
    progress: dict[str, Any] | None = None,
) -> None:
    """The run's end (``done``, ``failed`` or ``aborted``), fenced like every other write; ``progress``
    replaces the last beat's (a part's result, which its parent reads)."""
    if status not in ENDED:
        raise ValueError(f"finish() takes an end status, not {status!r}")
    fence(session, attempt)
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "finished_at": func.now(),
        "heartbeat_at": func.now(),
    }
    if progress is not None:
        values["progress"] = progress
    session.execute(update(Run).where(Run.uid == attempt.run_uid).values(**values))


def child_states(session: Session, parent_uid: str) -> list[tuple[str, RunStatus]]:
    """``(uid, status)`` of the parts of a run, in their uid order: what a waiting parent polls (the
    rows' payloads and results are read only for the parts it needs)."""
    query = select(Run.uid, Run.status).where(Run.parent_uid == parent_uid).order_by(Run.uid)
    return [(uid, status) for uid, status in session.execute(query)]


def abort_orphans(session: Session) -> int:
    """Parts whose parent run has ended (failed, aborted, or done without them) and that still wait or
    run: nobody will read their result. Aborted; how many."""
    parent = Run.__table__.alias("parent")
    orphans = session.scalars(
        select(Run.uid)
        .join(parent, parent.c.uid == Run.parent_uid)
        .where(Run.status.in_(("queued", "running")), parent.c.status.in_(ENDED))
    ).all()
    for uid in orphans:
        request_abort(session, uid)
    return len(orphans)


def abort_children(session: Session, parent_uid: str) -> int:
    """Ask every part of a run that has not ended to stop; how many were asked."""
    asked = 0
    for uid, status in child_states(session, parent_uid):
        if status in ("queued", "running"):
            request_abort(session, uid)
            asked += 1
    return asked


def hand_back(session: Session, attempt: Attempt) -> RunStatus:
    """A gracefully stopping worker gives its run back: ``queued`` again (the next claim is a new
    attempt), no failure recorded. A run whose abort was requested meanwhile ends ``aborted``."""
    status = fence(session, attempt)
    new: RunStatus = "aborted" if status == "abort_requested" else "queued"
    values: dict[str, Any] = {"status": new, "worker": None}
    if new == "aborted":
        values["finished_at"] = func.now()
    session.execute(update(Run).where(Run.uid == attempt.run_uid).values(**values))
    return new


def recover_stale(
    session: Session,
    stale_seconds: float,
    *,
    is_dead: Callable[[str | None], bool] | None = None,
) -> list[tuple[str, Recovered]]:
    """Live runs whose heartbeat is older than ``stale_seconds`` by the database clock (or whose worker
    ``is_dead`` says is gone, e.g. a process of this host that no longer exists) lose their attempt: a run
    with attempts left goes back to ``queued`` (``retried``: the caller submits it again), the others
    end ``failed``; a run whose abort was requested ends ``aborted``. Returns ``(run_uid, outcome)``."""
    now = database_now(session)
    cutoff = now - timedelta(seconds=stale_seconds)
    # Compared in Python on the database's own clock reading: the same on every dialect (SQLite keeps
    # CURRENT_TIMESTAMP as text without a zone).
    candidates = session.scalars(
        select(Run).where(Run.status.in_(LIVE)).order_by(Run.uid).with_for_update(skip_locked=True)
    ).all()
    recovered: list[tuple[str, Recovered]] = []
    for run in candidates:
        stale = run.heartbeat_at is None or _utc(run.heartbeat_at) < cutoff
        if not stale and not (is_dead is not None and is_dead(run.worker)):
            continue
        outcome: Recovered
        if run.status == "abort_requested":
            outcome, run.status, run.finished_at = "aborted", "aborted", now
        elif run.attempt < run.max_attempts:
            outcome, run.status, run.worker = "retried", "queued", None
        else:
            outcome, run.status, run.finished_at = "failed", "failed", now
            run.error = (
                f"The worker running attempt {run.attempt} stopped (no heartbeat for {stale_seconds:g} s) "
                f"and the run has no attempt left (max {run.max_attempts})."
            )
        recovered.append((run.uid, outcome))
    session.flush()
    return recovered


def worker_id() -> str:
    """``host:pid``: lets a restarted server tell which in-flight runs died with their process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_is_dead(worker: str | None) -> bool:
    if not worker:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: its heartbeat decides
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
