"""Publishes on Procrastinate (issue 14, items 1-3): ``datawharf serve`` only queues, ``datawharf worker``
processes run, on a fresh PostgreSQL database, from the suite's moto_server.

Every process here is a real subprocess with a home ("machine") of its own: one server and one or two
workers sharing one database and one warehouse, on a bucket of the suite's S3 server. What is asserted
is read from the API and from the database: the runs table (status, attempt, worker) and the versions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update

from datawharf.store.models.datasets import DatasetSchedule, DatasetVersion
from datawharf.store.models.runs import Run
from tests.support.app import AUTH, BOOTSTRAP_KEY, SHARED_SECRET_KEY, fresh_postgres_database
from tests.support.explore import API, publish_csv, wait_idle
from tests.support.moto import MotoServer
from tests.support.processes import serve_log, start_serve, stop, wait_until_answers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def worker_log(home: Path, name: str) -> Path:
    return home / f"worker-{name}.log"


def start_worker(home: Path, env: dict[str, str], name: str) -> subprocess.Popen[str]:
    """``python -m datawharf worker``, its output in ``worker_log(home, name)`` (a file: see start_serve)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    full_env.update({"DATAWHARF_HOME": str(home), **env})
    home.mkdir(parents=True, exist_ok=True)
    with worker_log(home, name).open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "datawharf", "worker"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)


class Cluster:
    """One server and named workers on one fresh PostgreSQL database; everything stopped on exit."""

    def __init__(self, stack: ExitStack, home: Path, url: str, moto: MotoServer) -> None:
        self.stack, self.home, self.url = stack, home, url
        self.env = {
            "DATAWHARF_DATABASE_URL": url,
            "DATAWHARF_SECRET_KEY": SHARED_SECRET_KEY,
            "DATAWHARF_JOB_BACKEND": "procrastinate",
            "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
            "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto.host_port,
            "DATAWHARF_SCHEDULE_CRON": "* * * * * */2",  # the pass every 2 s, not every minute
            "DATAWHARF_WORKER_SHUTDOWN_GRACE": "0",
            "DATAWHARF_JOB_WORKERS": "1",
            "DATAWHARF_PARSE_THREADS": "1",
            "DATAWHARF_JOB_STALE_SECONDS": "5",
            # One warehouse every "machine" shares: a bucket of the suite's S3 server.
            "DATAWHARF_WAREHOUSE_URL": f"s3://{moto.create_bucket()}/wh",
            "DATAWHARF_WAREHOUSE_ENDPOINT_URL": moto.endpoint_url,
            "DATAWHARF_WAREHOUSE_ACCESS_KEY_ID": "testing",
            "DATAWHARF_WAREHOUSE_SECRET_ACCESS_KEY": "testing",
        }
        self.engine: Engine = create_engine(url)
        stack.callback(self.engine.dispose)
        self.workers: dict[str, subprocess.Popen[str]] = {}
        base_url, process = start_serve(home / "server", self.env)
        stack.callback(stop, process)
        wait_until_answers(f"{base_url}/openapi.json", process, timeout=120)
        self.server = process
        self.client = stack.enter_context(httpx2.Client(base_url=base_url, timeout=60))

    def worker(self, name: str) -> subprocess.Popen[str]:
        process = start_worker(self.home / name, self.env, name)  # a home ("machine") of its own
        self.stack.callback(stop, process)
        self.workers[name] = process
        return process

    def log(self, worker: str) -> str:
        return worker_log(self.home / worker, worker).read_text()

    def logs(self) -> str:
        parts = [serve_log(self.home / "server").read_text()]
        parts += [self.log(name) for name in self.workers]
        return "\n----\n".join(part[-3000:] for part in parts)

    def runs_of(self, dataset_uid: str) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(Run).where(Run.subject_uid == dataset_uid)).all())

    def versions_of(self, dataset_uid: str) -> int:
        with self.engine.connect() as connection:
            query = select(func.count()).where(DatasetVersion.dataset_uid == dataset_uid)
            return int(connection.execute(query).scalar_one())

    def status(self, uid: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.get(f"{API}/datasets/{uid}/status/", headers=AUTH).json()
        return answer


@pytest.fixture
def cluster(tmp_path: Path, moto_server: MotoServer) -> Iterator[Cluster]:
    with fresh_postgres_database() as url, ExitStack() as stack:
        yield Cluster(stack, tmp_path / "home", url, moto_server)


def big_csv(rows: int) -> bytes:
    """A CSV long enough that its publish lasts seconds (the abort and the stop land mid-run)."""
    lines = [b"id;name;value"]
    lines += [b"%d;record number %d of a long file;%d.25" % (n, n, n) for n in range(rows)]
    return b"\n".join(lines) + b"\n"


def test_serve_queues_and_a_worker_publishes(cluster: Cluster, moto_server: MotoServer) -> None:
    cluster.worker("a")
    bucket = moto_server.create_bucket()
    dataset = publish_csv(cluster.client, moto_server, bucket, "small.csv", b"a;b\n1;2\n3;4\n", "Small")
    assert dataset["is_published"] is True
    [run] = cluster.runs_of(dataset["uid"])
    assert (run.status, run.attempt) == ("done", 1), cluster.logs()
    assert run.worker is not None and run.worker.endswith(f":{cluster.workers['a'].pid}")
    assert cluster.versions_of(dataset["uid"]) == 1
    records = cluster.client.get(f"/api/explore/v2.1/catalog/datasets/{dataset['dataset_id']}/records")
    assert records.status_code == 200 and records.json()["total_count"] == 2, records.text


def start_long_publish(cluster: Cluster, moto_server: MotoServer, rows: int = 1_500_000) -> str:
    bucket = moto_server.create_bucket()
    body = big_csv(rows)
    made = publish_csv(cluster.client, moto_server, bucket, "long.csv", body, "Long", publish=False)
    uid: str = made["uid"]
    answer = cluster.client.post(f"{API}/datasets/{uid}/publish/", headers=AUTH)
    assert answer.status_code == 200, answer.text
    wait_for("processing", lambda: cluster.status(uid)["status"] == "processing", timeout=120)
    return uid


def test_abort_through_the_api_reaches_the_worker(cluster: Cluster, moto_server: MotoServer) -> None:
    cluster.worker("a")
    uid = start_long_publish(cluster, moto_server)
    asked = time.monotonic()
    answer = cluster.client.post(f"{API}/datasets/{uid}/abort/", headers=AUTH)
    assert answer.status_code == 200, answer.text
    status = wait_idle(cluster.client, uid, timeout=60)
    took = time.monotonic() - asked
    assert (status["status"], status["is_published"]) == ("idle", False), status
    [run] = cluster.runs_of(uid)
    assert run.status == "aborted", cluster.logs()
    assert cluster.versions_of(uid) == 0
    assert took < 10, f"the abort took {took:.1f}s to reach the worker"


def test_a_due_schedule_with_two_workers_publishes_once(cluster: Cluster, moto_server: MotoServer) -> None:
    bucket = moto_server.create_bucket()
    body = b"a;b\n1;2\n"
    uid = publish_csv(cluster.client, moto_server, bucket, "due.csv", body, "Due", publish=False)["uid"]
    created = cluster.client.post(
        f"{API}/datasets/{uid}/schedules/", headers=AUTH, json={"cron_schedule": "0 0 1 1 *"}
    )
    assert created.status_code == 201, created.text
    cluster.worker("a")
    cluster.worker("b")
    wait_for("two workers up", lambda: all("worker" in cluster.log(n) for n in "ab"))
    time.sleep(3)  # both run their periodic deferrers
    with cluster.engine.begin() as connection:  # due now
        connection.execute(update(DatasetSchedule).values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC)))
    wait_for("the scheduled publish", lambda: cluster.status(uid)["is_published"], timeout=90)
    time.sleep(6)  # three more passes: none may publish again (the schedule is not due before next year)
    runs = cluster.runs_of(uid)
    assert [(r.status, r.attempt) for r in runs] == [("done", 1)], cluster.logs()
    assert cluster.versions_of(uid) == 1
    with cluster.engine.connect() as connection:
        last_tick = connection.execute(
            text(
                "SELECT max(defer_timestamp) FROM procrastinate_periodic_defers "
                "WHERE task_name = 'datawharf.schedule'"
            )
        ).scalar_one()
    assert time.time() - last_tick < 6  # the pass still runs, every 2 s (once: the publish above)


def test_sigterm_hands_the_run_back_and_another_worker_finishes_it(
    cluster: Cluster, moto_server: MotoServer
) -> None:
    first = cluster.worker("a")
    uid = start_long_publish(cluster, moto_server)
    [run] = cluster.runs_of(uid)
    assert run.worker.endswith(f":{first.pid}")
    second = cluster.worker("b")  # takes the run once handed back, whenever it is up
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, cluster.logs()
    status = wait_idle(cluster.client, uid, timeout=180)
    assert (status["status"], status["is_published"]) == ("idle", True), (status, cluster.logs())
    [run] = cluster.runs_of(uid)
    assert (run.status, run.attempt) == ("done", 2), (run.worker, first.pid, cluster.logs())
    assert run.worker.endswith(f":{second.pid}")
    assert cluster.versions_of(uid) == 1
    assert "handed back" in cluster.log("a")


def test_workers_starting_together_apply_the_queue_schema_once(tmp_path: Path) -> None:
    """Procrastinate's schema SQL is not idempotent: four processes' worth of start-ups at once (threads,
    each with its own engine and so its own lock connection) all succeed on one schema."""
    from concurrent.futures import ThreadPoolExecutor

    from datawharf.jobs.procrastinate_backend import ensure_schema
    from datawharf.settings import Settings
    from datawharf.store.db import Database

    with fresh_postgres_database() as url:
        settings = Settings(home=tmp_path, database_url=url, secret_key=SHARED_SECRET_KEY)
        databases = [Database(settings) for _ in range(4)]
        try:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(ensure_schema, databases))
            with databases[0].engine.connect() as connection:
                tables = connection.execute(
                    text("SELECT count(*) FROM pg_tables WHERE tablename = 'procrastinate_jobs'")
                ).scalar_one()
            assert tables == 1
        finally:
            for database in databases:
                database.dispose()


def test_a_killed_workers_run_is_retried_on_another(cluster: Cluster, moto_server: MotoServer) -> None:
    """kill -9 mid-publish: the scheduling pass finds the run's worker gone (here at once: a process of
    this host that no longer exists; elsewhere after DATAWHARF_JOB_STALE_SECONDS), requeues it as attempt
    2 and another worker publishes one version; the dead worker's job row ends failed, not 'doing'."""
    first = cluster.worker("a")
    uid = start_long_publish(cluster, moto_server)
    cluster.worker("b")
    first.kill()
    first.wait(timeout=30)
    status = wait_idle(cluster.client, uid, timeout=180)
    assert (status["status"], status["is_published"]) == ("idle", True), (status, cluster.logs())
    [run] = cluster.runs_of(uid)
    assert (run.status, run.attempt) == ("done", 2), cluster.logs()
    assert cluster.versions_of(uid) == 1

    def ghost_jobs() -> list[Any]:
        with cluster.engine.connect() as connection:
            return list(
                connection.execute(
                    text("SELECT status FROM procrastinate_jobs WHERE task_name = 'datawharf.run'")
                ).scalars()
            )

    # The dead worker's job: 'doing' until its Procrastinate heartbeat (every 10 s) is 30 s old.
    wait_for("the dead worker's job closed", lambda: ghost_jobs() == ["failed"], timeout=90)
