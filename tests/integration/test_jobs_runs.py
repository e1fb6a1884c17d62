"""The runs table's state machine (jobs/runs.py) on SQLite and on the real PostgreSQL: one claim wins,
a stale attempt is fenced off, recovery retries then fails, heartbeats come from the database clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from datawharf.jobs import runs
from datawharf.jobs.runs import Attempt, StaleAttempt
from datawharf.store.db import Database, open_database
from datawharf.store.models.runs import Run
from tests.support.app import make_settings


@pytest.fixture
def database(database_url: str, tmp_path: Path) -> Iterator[Database]:
    db = open_database(make_settings(tmp_path, database_url=database_url))
    try:
        yield db
    finally:
        db.dispose()


def new_run(database: Database, run_uid: str = "ru_test", *, max_attempts: int = 2) -> str:
    with database.session() as session:
        runs.create_run(session, "publish", "da_subject", run_uid=run_uid, max_attempts=max_attempts)
    return run_uid


def run_row(database: Database, run_uid: str) -> Run:
    with database.session() as session:
        run = session.get(Run, run_uid)
        assert run is not None
        session.expunge(run)
        return run


def age_heartbeat(database: Database, run_uid: str, seconds: float) -> None:
    """As a worker that stopped beating ``seconds`` ago leaves it (by the database clock)."""
    with database.session() as session:
        now = runs.database_now(session)
        session.execute(
            update(Run).where(Run.uid == run_uid).values(heartbeat_at=now - timedelta(seconds=seconds))
        )


def test_claim_increments_the_attempt_and_only_once(database: Database) -> None:
    run_uid = new_run(database)
    with database.session() as session:
        first = runs.claim(session, run_uid, "host:1")
    with database.session() as session:
        second = runs.claim(session, run_uid, "host:2")
    assert first == Attempt(run_uid, 1)
    assert second is None
    row = run_row(database, run_uid)
    assert (row.status, row.worker, row.attempt) == ("running", "host:1", 1)
    assert row.heartbeat_at is not None and row.started_at is not None
    with database.session() as session:
        assert runs.claim(session, "ru_unknown", "host:1") is None


def test_concurrent_claims_one_wins(database: Database) -> None:
    run_uid = new_run(database)
    start = threading.Barrier(4)

    def claim(n: int) -> Attempt | None:
        start.wait()
        with database.session() as session:
            return runs.claim(session, run_uid, f"host:{n}")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(claim, range(4)))
    assert sorted(r is not None for r in results) == [False, False, False, True]
    assert run_row(database, run_uid).attempt == 1


def test_stale_attempt_is_refused_and_writes_nothing(database: Database) -> None:
    run_uid = new_run(database)
    with database.session() as session:
        first = runs.claim(session, run_uid, "host:1")
    assert first is not None
    age_heartbeat(database, run_uid, 600)
    with database.session() as session:
        assert runs.recover_stale(session, 120) == [(run_uid, "retried")]
    with database.session() as session:
        second = runs.claim(session, run_uid, "host:2")
    assert second == Attempt(run_uid, 2)
    # The first attempt wakes up: every write it tries is refused, the run is untouched.
    with pytest.raises(StaleAttempt) as refused, database.session() as session:
        runs.fence(session, first)
    assert refused.value.error_code == "stale_attempt"
    with database.session() as session:
        assert runs.beat(session, first, {"records_done": 99}) == "stale"
    with pytest.raises(StaleAttempt), database.session() as session:
        runs.finish(session, first, "done")
    with pytest.raises(StaleAttempt), database.session() as session:
        runs.hand_back(session, first)
    row = run_row(database, run_uid)
    assert (row.status, row.attempt, row.worker, row.progress) == ("running", 2, "host:2", {})
    with database.session() as session:
        assert runs.beat(session, second, {"records_done": 5}) == "go"
        runs.finish(session, second, "done")
    row = run_row(database, run_uid)
    assert (row.status, row.progress) == ("done", {"records_done": 5})
    assert row.finished_at is not None
    with database.session() as session:  # finished: no attempt is live any more
        assert runs.beat(session, second, {}) == "stale"


def test_recover_stale_retries_then_fails_at_max_attempts(database: Database) -> None:
    run_uid = new_run(database, max_attempts=2)
    for attempt, outcome in ((1, "retried"), (2, "failed")):
        with database.session() as session:
            assert runs.claim(session, run_uid, "host:1") == Attempt(run_uid, attempt)
        with database.session() as session:  # a fresh heartbeat is left alone
            assert runs.recover_stale(session, 120) == []
        age_heartbeat(database, run_uid, 121)
        with database.session() as session:
            assert runs.recover_stale(session, 120) == [(run_uid, outcome)]
    row = run_row(database, run_uid)
    assert (row.status, row.attempt) == ("failed", 2)
    assert row.error is not None and "no attempt left" in row.error
    with database.session() as session:
        assert runs.claim(session, run_uid, "host:1") is None
        assert runs.recover_stale(session, 120) == []


def test_recover_stale_takes_a_dead_worker_at_once(database: Database) -> None:
    run_uid = new_run(database)
    with database.session() as session:
        runs.claim(session, run_uid, "host:gone")
    with database.session() as session:
        assert runs.recover_stale(session, 120, is_dead=lambda w: w == "host:alive") == []
        assert runs.recover_stale(session, 120, is_dead=lambda w: w == "host:gone") == [(run_uid, "retried")]


def test_heartbeat_is_the_database_clock(database: Database) -> None:
    run_uid = new_run(database)
    with database.session() as session:
        attempt = runs.claim(session, run_uid, "host:1")
    assert attempt is not None
    age_heartbeat(database, run_uid, 3600)
    with database.session() as session:
        before = runs.database_now(session)
        assert runs.beat(session, attempt, {"bytes_done": 1}) == "go"
        written = session.scalar(select(Run.heartbeat_at).where(Run.uid == run_uid))
        assert written is not None
        if database.is_sqlite:  # CURRENT_TIMESTAMP: whole seconds
            assert written.microsecond == 0
            assert abs((written - before).total_seconds()) < 2
        else:  # now() is the transaction's start: the very instant read above
            assert written == before == session.scalar(select(func.now()))


def test_abort_queued_and_running(database: Database) -> None:
    queued = new_run(database, "ru_queued")
    with database.session() as session:
        assert runs.request_abort(session, queued) == "aborted"
    with database.session() as session:
        assert runs.claim(session, queued, "host:1") is None
    running = new_run(database, "ru_running")
    with database.session() as session:
        attempt = runs.claim(session, running, "host:1")
    assert attempt is not None
    with database.session() as session:
        assert runs.request_abort(session, running) == "abort_requested"
    with database.session() as session:
        assert runs.beat(session, attempt, {}) == "abort"
        runs.finish(session, attempt, "aborted")
    assert run_row(database, running).status == "aborted"
    with database.session() as session:
        assert runs.request_abort(session, "ru_unknown") is None


def test_hand_back_requeues_without_failure(database: Database) -> None:
    run_uid = new_run(database, max_attempts=1)
    with database.session() as session:
        first = runs.claim(session, run_uid, "host:1")
    assert first is not None
    with database.session() as session:
        assert runs.hand_back(session, first) == "queued"
    row = run_row(database, run_uid)
    assert (row.status, row.worker, row.error) == ("queued", None, None)
    with database.session() as session:  # a hand-back is not a failure: the next claim still may run it
        assert runs.claim(session, run_uid, "host:2") == Attempt(run_uid, 2)
    with database.session() as session:
        runs.request_abort(session, run_uid)
    with database.session() as session:
        assert runs.hand_back(session, Attempt(run_uid, 2)) == "aborted"
