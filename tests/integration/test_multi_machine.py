"""Issue 14's "Done means": datawharf on several machines, as subprocesses on this one.

Two ``datawharf serve`` replicas and two ``datawharf worker``s share a fresh PostgreSQL database
(``DATAWHARF_JOB_BACKEND=procrastinate``, ``DATAWHARF_SECRET_KEY``), and the warehouse is a bucket of the
suite's moto_server (tests/support/cluster.py). The publish source is a gzip CSV big enough that a
publish lasts seconds, so that kills, pauses, aborts and restarts land while it runs. Every wait polls
the API or the database with a deadline.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support.app import BOOTSTRAP_KEY
from tests.support.cluster import API, Cluster, Process, big_gzip_csv, cluster
from tests.support.moto import MotoServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXPLORE = "/api/explore/v2.1"
ROWS = 4_000_000  # 51 MiB of gzip: 1.2 s of publish on an idle fast 2-core machine, 7 s on a slow one


@pytest.fixture(scope="module")
def big_source(moto_server: MotoServer) -> str:
    """The URL of the big gzip CSV on a source bucket (made once: compressing it takes seconds)."""
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "big.csv.gz", big_gzip_csv(ROWS))
    return f"{moto_server.endpoint_url}/{bucket}/big.csv.gz"


@pytest.fixture
def small_source(moto_server: MotoServer) -> str:
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "small.csv", b"id;name\n1;one\n2;two\n")
    return f"{moto_server.endpoint_url}/{bucket}/small.csv"


@pytest.fixture
def wharf(tmp_path: Path, moto_server: MotoServer) -> Iterator[Cluster]:
    with cluster(tmp_path, moto_server) as made:
        yield made


@pytest.fixture
def impatient_wharf(tmp_path: Path, moto_server: MotoServer) -> Iterator[Cluster]:
    """Workers that hand their runs back as soon as they are told to stop: a publish of ``big_source``
    lasts about a second on a fast idle machine, less than the cluster's default grace."""
    with cluster(tmp_path, moto_server, extra_env={"DATAWHARF_WORKER_SHUTDOWN_GRACE": "0"}) as made:
        yield made


# --- helpers -------------------------------------------------------------------------------------


def running_on_a_worker(wharf: Cluster, uid: str, *, attempt: int = 1) -> tuple[dict[str, Any], Process]:
    """Waits until attempt ``attempt`` of the dataset's run is running on one of the workers and has
    beaten with records parsed (so a signal lands mid-run); returns the run row and that worker. The
    claim does not reset the row's progress: a beat after the claim (heartbeat_at > started_at) wrote
    this attempt's own."""

    def found() -> tuple[dict[str, Any], Process] | None:
        run = wharf.run_of(uid)
        if run is None or run["status"] != "running" or run["attempt"] != attempt:
            return None
        worker = wharf.worker_by_name(run["worker"])
        progress = run["progress"] or {}
        if worker is None or run["heartbeat_at"] <= run["started_at"] or not progress.get("records_done"):
            return None
        return run, worker

    return wharf.wait(found, f"attempt {attempt} of {uid}'s run running on a worker", timeout=90, every=0.05)


def published_version(wharf: Cluster, client: httpx.Client, uid: str) -> str:
    wharf.start_publish(client, uid)
    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle" and status["is_published"], status
    return str(status["version_uid"])


def total_count(client: httpx.Client, dataset_id: str) -> int:
    response = client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records", params={"limit": 0})
    assert response.status_code == 200, response.text
    return int(response.json()["total_count"])


def dataset_id(client: httpx.Client, uid: str) -> str:
    response = client.get(f"{API}/datasets/{uid}/")
    assert response.status_code == 200, response.text
    return str(response.json()["dataset_id"])


def assert_nothing_orphaned(wharf: Cluster, uid: str) -> None:
    """The warehouse holds the prefixes of the dataset's version rows and no other, and no multipart
    upload is left; the periodic sweep may need a pass or two after a killed attempt."""
    wharf.wait(
        lambda: wharf.warehouse_prefixes(uid) == set(wharf.versions(uid)) and not wharf.multipart_uploads(),
        f"warehouse prefixes of {uid} == its versions {wharf.versions(uid)}, no multipart upload",
        timeout=60,
        every=0.5,
    )


# --- the tests -----------------------------------------------------------------------------------


def test_kill_9_of_the_worker_running_a_publish_retries_it_on_the_other(
    wharf: Cluster, big_source: str
) -> None:
    client = wharf.client(0)
    uid = wharf.create_dataset(client, "killed", big_source)
    wharf.start_publish(client, uid)
    run, victim = running_on_a_worker(wharf, uid)
    victim.signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    (survivor,) = [w for w in wharf.workers if w is not victim]

    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle" and status["is_published"], status
    assert status["progress"]["records_done"] == ROWS
    final = wharf.run_of(uid)
    assert final is not None
    assert (final["uid"], final["status"], final["attempt"]) == (run["uid"], "done", 2)
    assert wharf.worker_by_name(final["worker"]) is survivor
    assert len(wharf.versions(uid)) == 1
    assert_nothing_orphaned(wharf, uid)


def test_a_paused_worker_woken_after_the_retry_is_fenced_off(wharf: Cluster, big_source: str) -> None:
    client = wharf.client(0)
    uid = wharf.create_dataset(client, "paused", big_source)
    wharf.start_publish(client, uid)
    run, sleeper = running_on_a_worker(wharf, uid)
    sleeper.signal(signal.SIGSTOP)
    try:
        # Its heartbeat stops: the run is taken for dead and retried on the other worker.
        retried, other = running_on_a_worker(wharf, uid, attempt=2)
        assert other is not sleeper
    finally:
        sleeper.signal(signal.SIGCONT)  # wakes while attempt 2 runs: each of its writes must be refused

    # Until the run ends, the row stays attempt 2's: the woken attempt 1 never beats, never writes.
    seen: set[tuple[int, str]] = set()

    def settled() -> dict[str, Any] | None:
        current = wharf.run_of(uid)
        assert current is not None
        seen.add((current["attempt"], current["worker"]))
        status = wharf.status(client, uid)
        return status if status["status"] in ("idle", "error") else None

    status = wharf.wait(settled, "the retried run settled", timeout=180, every=0.1)
    assert status["status"] == "idle" and status["is_published"], status
    assert status["progress"]["records_done"] == ROWS
    assert {worker for _, worker in seen} == {retried["worker"]}, seen
    final = wharf.run_of(uid)
    assert final is not None
    assert (final["uid"], final["status"], final["attempt"]) == (run["uid"], "done", 2)
    assert wharf.worker_by_name(final["worker"]) is other
    assert len(wharf.versions(uid)) == 1
    # The woken worker stopped its stale attempt (the fence) and lives on, ready for other runs.
    assert sleeper.process.poll() is None, sleeper.log[-3000:]
    assert_nothing_orphaned(wharf, uid)


def test_abort_on_replica_a_of_a_run_on_a_worker_keeps_the_previous_version(
    wharf: Cluster, big_source: str
) -> None:
    a, b = wharf.client(0), wharf.client(1)
    uid = wharf.create_dataset(a, "aborted", big_source)
    v1 = published_version(wharf, a, uid)
    wharf.start_publish(b, uid)
    running_on_a_worker(wharf, uid)  # the second run: attempt 1 of its own

    asked = time.monotonic()
    assert a.post(f"{API}/datasets/{uid}/abort/").status_code == 200
    wharf.wait(lambda: (wharf.run_of(uid) or {}).get("status") == "aborted", "run aborted", timeout=15)
    took = time.monotonic() - asked
    assert took < 5, f"the abort reached the worker after {took:.1f}s"

    status = wharf.wait_settled(a, uid)
    assert status["is_published"] and status["version_uid"] == v1, status
    for client in (a, b):
        assert total_count(client, dataset_id(client, uid)) == ROWS
    assert len(wharf.versions(uid)) == 1
    assert_nothing_orphaned(wharf, uid)


def test_a_due_schedule_with_two_workers_publishes_once(wharf: Cluster, small_source: str) -> None:
    client = wharf.client(0)
    uid = wharf.create_dataset(client, "scheduled", small_source)
    created = client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "0 * * * *"})
    assert created.status_code == 201, created.text
    with wharf.engine.begin() as connection:  # due now
        connection.execute(text("UPDATE dataset_schedules SET next_run_at = '2000-01-01T00:00:00+00:00'"))

    def last_tick() -> Any:
        """The last tick the workers deferred a scheduling pass for (done jobs are deleted, the
        periodic defers table keeps the ticks), once no pass is waiting or running."""
        waiting = wharf.rows(
            "SELECT count(*) AS n FROM procrastinate_jobs"
            " WHERE task_name = 'datawharf.schedule' AND status IN ('todo', 'doing')"
        )[0]["n"]
        ticks = wharf.rows(
            "SELECT max(defer_timestamp) AS t FROM procrastinate_periodic_defers"
            " WHERE task_name = 'datawharf.schedule'"
        )
        return None if waiting else ticks[0]["t"]

    wharf.wait(lambda: wharf.versions(uid), "the scheduled publish made a version", timeout=90)
    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle" and status["is_published"], status
    settled_tick = wharf.wait(last_tick, "a scheduling tick", timeout=30)
    wharf.wait(lambda: (last_tick() or 0) >= settled_tick + 6, "three more scheduling passes", timeout=60)
    assert len(wharf.versions(uid)) == 1
    assert len(wharf.rows("SELECT uid FROM runs WHERE subject_uid = :uid", uid=uid)) == 1


def test_three_processes_started_together_on_an_empty_database(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    """Two replicas and a worker at once on an empty database: all up, one schema, one admin key
    (printed once), no per-home encryption key (DATAWHARF_SECRET_KEY is the one story)."""
    with cluster(tmp_path, moto_server, replicas=0, workers=0, bootstrap_key=False) as wharf:
        replicas = [wharf.start_replica(wait=False) for _ in range(2)]
        worker = wharf.start_worker()
        for replica in replicas:
            wharf.wait_up(replica)
        wharf.wait_worker_ready(worker)
        for replica in replicas:
            assert httpx.get(f"{replica.base_url}/health", timeout=10).json() == {"status": "ok"}
        assert wharf.rows("SELECT count(*) AS n FROM api_keys")[0]["n"] == 1
        banners = sorted(p.log.count("An admin API key was created") for p in [*replicas, worker])
        assert banners == [0, 0, 1], banners
        for process in [*replicas, worker]:
            assert not (process.home / "secret.key").exists()
        assert worker.process.poll() is None


def sign_in(base_url: str) -> httpx.Client:
    browser = httpx.Client(base_url=base_url, timeout=30.0)
    form = browser.get("/backoffice/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    signed = browser.post(
        "/backoffice/sign-in",
        data={"api_key": BOOTSTRAP_KEY, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return browser


def test_a_backoffice_sign_in_on_replica_a_is_valid_on_replica_b(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    """The session cookie is signed with DATAWHARF_SECRET_KEY, so any replica accepts it (no workers are
    needed for this one)."""
    with cluster(tmp_path, moto_server, workers=0) as wharf:
        a, b = (str(r.base_url) for r in wharf.replicas)
        browser = sign_in(a)
        try:
            with httpx.Client(base_url=b, timeout=30.0, cookies=browser.cookies) as other:
                page = other.get("/backoffice/datasets/", follow_redirects=False)
                assert page.status_code == 200, (page.status_code, page.headers.get("location"))
            with httpx.Client(base_url=b, timeout=30.0) as stranger:  # and without the cookie: sign in
                assert stranger.get("/backoffice/datasets/", follow_redirects=False).status_code == 303
        finally:
            browser.close()


def test_explore_on_both_replicas_reads_the_new_version_right_after_the_switch(
    wharf: Cluster, moto_server: MotoServer
) -> None:
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "v.csv", b"id;name\n1;one\n")
    a, b = wharf.client(0), wharf.client(1)
    uid = wharf.create_dataset(a, "switched", f"{moto_server.endpoint_url}/{bucket}/v.csv")
    published_version(wharf, a, uid)
    public_id = dataset_id(a, uid)
    for client in (a, b):
        assert total_count(client, public_id) == 1  # both replicas have read (and cached) version 1

    moto_server.put_object(bucket, "v.csv", b"id;name\n1;one\n2;two\n3;three\n")
    v2 = published_version(wharf, b, uid)
    for client in (a, b):  # the status said idle on v2: the very next query reads v2
        assert wharf.status(client, uid)["version_uid"] == v2
        assert total_count(client, public_id) == 3


def test_a_rolling_restart_of_both_workers_during_a_publish_finishes_the_run(
    impatient_wharf: Cluster, big_source: str
) -> None:
    wharf = impatient_wharf
    client = wharf.client(0)
    uid = wharf.create_dataset(client, "rolling", big_source)
    wharf.start_publish(client, uid)
    run, busy = running_on_a_worker(wharf, uid)
    # Restart the worker running the publish, then the one that took the run over: the replacement
    # of each is started at once (a rolling deploy), the old one given SIGTERM.
    for attempt in (1, 2):
        if attempt == 2:
            _, busy = running_on_a_worker(wharf, uid, attempt=2)
        wharf.start_worker()
        busy.signal(signal.SIGTERM)
        assert busy.process.wait(timeout=60) == 0, busy.log[-3000:]  # graceful: it handed its run back
    restarted = {w.pid for w in wharf.workers if w.process.poll() is None}
    assert len(restarted) == 2

    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle" and status["is_published"], status
    assert status["progress"]["records_done"] == ROWS
    final = wharf.run_of(uid)
    assert final is not None and (final["uid"], final["status"]) == (run["uid"], "done")
    assert final["attempt"] == 3 and final["error"] is None, final
    finisher = wharf.worker_by_name(final["worker"])
    assert finisher is not None and finisher.pid in restarted
    assert len(wharf.versions(uid)) == 1
    assert_nothing_orphaned(wharf, uid)
