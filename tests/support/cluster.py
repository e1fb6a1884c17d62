"""A multi-machine datawharf on one machine, for the issue 14 tests: N ``datawharf serve`` replicas and M
``datawharf worker`` processes on one fresh PostgreSQL database, the warehouse on a bucket of the suite's
moto_server, ``DATAWHARF_SECRET_KEY`` shared and ``DATAWHARF_JOB_BACKEND=procrastinate``.

Every process has a home folder of its own (one per "machine"), so nothing is shared but what a real
deployment shares: the database, the bucket and the settings. The helpers poll the API or the database
until a condition holds (with a deadline), never sleep a fixed time.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.support.app import AUTH, BOOTSTRAP_KEY, SHARED_SECRET_KEY, fresh_postgres_database
from tests.support.moto import MotoServer
from tests.support.processes import free_port, serve_log, stop, wait_until_answers

API = "/api/automation/v1.0"
T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.1) -> T:
    """Polls ``condition`` until it returns something truthy, which it returns; fails after ``timeout``
    with ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def big_gzip_csv(rows: int) -> bytes:
    """A gzip CSV of ``rows`` rows whose publish lasts seconds (parsing, not the upload, dominates); one
    block of 10 000 distinct rows repeated, so that making it costs little."""
    block = "".join(
        f"{n};name {n % 9973};{n * 0.37:.2f};2024-{1 + n % 12:02d}-{1 + n % 28:02d};note text {n}\n"
        for n in range(10_000)
    )
    text_ = "id;name;value;day;note\n" + block * max(1, rows // 10_000)
    return gzip.compress(text_.encode(), compresslevel=1)


@dataclass
class Process:
    """One datawharf process of the cluster: its kind ('serve' or 'worker'), home and Popen."""

    kind: str
    home: Path
    process: subprocess.Popen[str]
    base_url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        path = serve_log(self.home) if self.kind == "serve" else self.home / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)


@dataclass
class Cluster:
    """What the tests drive: the replicas, the workers, the database (read directly) and the bucket."""

    database_url: str
    env: dict[str, str]
    root: Path
    moto: MotoServer
    warehouse_bucket: str
    replicas: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)
    _engine: Engine | None = None
    _counter: int = 0

    # --- processes -------------------------------------------------------------------------------

    def _home(self, kind: str) -> Path:
        self._counter += 1
        home = self.root / f"{kind}{self._counter}"
        home.mkdir(parents=True, exist_ok=True)
        return home

    def _env(self, home: Path, extra: dict[str, str] | None) -> dict[str, str]:
        # Neither the developer's datawharf settings nor their AWS profile reach the processes.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
        env.update({"DATAWHARF_HOME": str(home), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
        env.update(self.env)
        env.update(extra or {})
        return env

    def start_replica(self, extra: dict[str, str] | None = None, *, wait: bool = True) -> Process:
        home = self._home("serve")
        port = free_port()
        with serve_log(home).open("a") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "datawharf", "serve"],
                env={**self._env(home, extra), "DATAWHARF_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        replica = Process("serve", home, popen, f"http://127.0.0.1:{port}")
        self.stack.callback(stop, popen)
        self.replicas.append(replica)
        if wait:
            self.wait_up(replica)
        return replica

    def start_worker(self, extra: dict[str, str] | None = None) -> Process:
        home = self._home("worker")
        with (home / "worker.log").open("a") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "datawharf", "worker"],
                env=self._env(home, extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        worker = Process("worker", home, popen)
        self.stack.callback(_stop_even_stopped, popen)
        self.workers.append(worker)
        return worker

    def wait_up(self, replica: Process, timeout: float = 120.0) -> None:
        assert replica.base_url is not None
        try:
            wait_until_answers(f"{replica.base_url}/health", replica.process, timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n--- its log:\n{replica.log[-4000:]}") from exc

    def wait_worker_ready(self, worker: Process, timeout: float = 120.0) -> None:
        """Until the worker printed its start line (it has connected and is listening)."""

        def ready() -> bool:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker exited with {worker.process.returncode}:\n{worker.log[-4000:]}")
            return "datawharf worker " in worker.log and "publishes at once" in worker.log

        wait_for(ready, "worker ready", timeout)

    def wait(
        self, condition: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.1
    ) -> T:
        """``wait_for``, with every process's log tail in the failure message."""
        try:
            return wait_for(condition, what, timeout, every)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from exc

    def worker_by_name(self, name: str | None) -> Process | None:
        """The worker whose ``host:pid`` name a run row records."""
        for worker in self.workers:
            if name is not None and name.endswith(f":{worker.pid}"):
                return worker
        return None

    def logs(self) -> str:
        """Every process's log tail, for a failure message."""
        return "\n".join(
            f"--- {p.kind} {p.pid} ({p.home.name}):\n{p.log[-3000:]}" for p in [*self.replicas, *self.workers]
        )

    # --- the API ---------------------------------------------------------------------------------

    def client(self, replica: Process | int = 0) -> httpx.Client:
        """An API client on a replica (by index or process), signed with the bootstrap admin key."""
        target = self.replicas[replica] if isinstance(replica, int) else replica
        client = httpx.Client(base_url=str(target.base_url), headers=AUTH, timeout=30.0)
        self.stack.callback(client.close)
        return client

    def create_connection(self, client: httpx.Client) -> str:
        response = client.post(
            f"{API}/datasource_connections/",
            json={
                "type": "amazon_s3",
                "title": "moto",
                "url": self.moto.endpoint_url,
                "auth": {
                    "type": "aws_signature_v4",
                    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    "region": "us-east-1",
                },
            },
        )
        assert response.status_code == 201, response.text
        return str(response.json()["uid"])

    def create_dataset(
        self, client: httpx.Client, title: str, source_url: str, params: dict[str, Any] | None = None
    ) -> str:
        """A dataset of one csvfile resource (``;``-separated unless ``params`` says otherwise)."""
        connection = self.create_connection(client)
        response = client.post(
            f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": title}}}}
        )
        assert response.status_code == 201, response.text
        uid = str(response.json()["uid"])
        resource = client.post(
            f"{API}/datasets/{uid}/resources/",
            json={
                "type": "csvfile",
                "title": "data",
                "params": params or {"separator": ";", "encoding": "utf-8", "headers_first_row": True},
                "datasource": {"type": "amazon_s3", "url": source_url, "connection": {"uid": connection}},
            },
        )
        assert resource.status_code == 201, resource.text
        return uid

    def status(self, client: httpx.Client, uid: str) -> dict[str, Any]:
        response = client.get(f"{API}/datasets/{uid}/status/")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start_publish(self, client: httpx.Client, uid: str) -> None:
        response = client.post(f"{API}/datasets/{uid}/publish/")
        assert response.status_code == 200, response.text

    def wait_settled(self, client: httpx.Client, uid: str, timeout: float = 180.0) -> dict[str, Any]:
        """The status once the dataset is at rest (idle or error)."""

        def settled() -> dict[str, Any] | None:
            status = self.status(client, uid)
            return status if status["status"] in ("idle", "error") else None

        try:
            return wait_for(settled, f"dataset {uid} settled", timeout, every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from exc

    # --- the database and the bucket ---------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
            self.stack.callback(self._engine.dispose)
        return self._engine

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(text(sql), params).mappings()]

    def run_of(self, dataset_uid: str) -> dict[str, Any] | None:
        """The latest publish run of a dataset (the table the `runs` helper owns), or None; its parts
        (a set spread over workers) are ``parts_of``."""
        found = self.rows(
            "SELECT * FROM runs WHERE subject_uid = :uid AND kind = 'publish' "
            "ORDER BY created_at DESC LIMIT 1",
            uid=dataset_uid,
        )
        return found[0] if found else None

    def parts_of(self, dataset_uid: str) -> list[dict[str, Any]]:
        """The part runs of a dataset's publishes (``datasets/parts.py``), in their order."""
        return self.rows(
            "SELECT * FROM runs WHERE subject_uid = :uid AND kind = 'publish_part' ORDER BY uid",
            uid=dataset_uid,
        )

    def versions(self, dataset_uid: str) -> list[str]:
        """The data_uid of every version row of the dataset (what the warehouse must hold, no more)."""
        return [
            str(r["data_uid"])
            for r in self.rows(
                "SELECT data_uid FROM dataset_versions WHERE dataset_uid = :uid", uid=dataset_uid
            )
        ]

    def warehouse_prefixes(self, dataset_uid: str) -> set[str]:
        """The version prefixes present in the warehouse bucket for a dataset (``wh/<uid>/<version>/``)."""
        listed = self.moto.boto3_client().list_objects_v2(
            Bucket=self.warehouse_bucket, Prefix=f"wh/{dataset_uid}/"
        )
        return {str(o["Key"]).split("/")[2] for o in listed.get("Contents", [])}

    def multipart_uploads(self) -> list[str]:
        listed = self.moto.boto3_client().list_multipart_uploads(Bucket=self.warehouse_bucket)
        return [str(u["Key"]) for u in listed.get("Uploads", [])]


def _stop_even_stopped(process: subprocess.Popen[str]) -> None:
    """A worker a test left SIGSTOPped would ignore SIGTERM: wake it first."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
    stop(process)


@contextmanager
def cluster(
    root: Path,
    moto: MotoServer,
    *,
    replicas: int = 2,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    bootstrap_key: bool = True,
) -> Iterator[Cluster]:
    """A fresh PostgreSQL database and warehouse bucket, ``replicas`` servers (answering) and ``workers``
    workers (ready); everything stopped, and the database dropped, on exit."""
    with fresh_postgres_database() as url:
        bucket = moto.create_bucket()
        env = {
            "DATAWHARF_DATABASE_URL": url,
            "DATAWHARF_SECRET_KEY": SHARED_SECRET_KEY,
            "DATAWHARF_JOB_BACKEND": "procrastinate",
            "DATAWHARF_WAREHOUSE_URL": f"s3://{bucket}/wh",
            "DATAWHARF_WAREHOUSE_ENDPOINT_URL": moto.endpoint_url,
            "DATAWHARF_WAREHOUSE_ACCESS_KEY_ID": "testing",
            "DATAWHARF_WAREHOUSE_SECRET_ACCESS_KEY": "testing",
            "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto.host_port,
            # A killed worker is taken for dead after a few seconds, the scheduling pass (which
            # recovers stale runs) runs every two seconds: the tests wait seconds, not minutes.
            "DATAWHARF_JOB_STALE_SECONDS": "4",
            "DATAWHARF_SCHEDULE_CRON": "* * * * * */2",
            "DATAWHARF_WORKER_SHUTDOWN_GRACE": "1",
            "DATAWHARF_JOB_WORKERS": "1",
            # The sweep runs often and aborts any unfinished upload: a killed attempt leaves nothing.
            "DATAWHARF_WAREHOUSE_SWEEP_INTERVAL": "2",
            "DATAWHARF_WAREHOUSE_MULTIPART_MAX_AGE": "1",
        }
        if bootstrap_key:
            env["DATAWHARF_BOOTSTRAP_API_KEY"] = BOOTSTRAP_KEY
        env.update(extra_env or {})
        made = Cluster(database_url=url, env=env, root=root, moto=moto, warehouse_bucket=bucket)
        with made.stack:
            for _ in range(replicas):
                made.start_replica(wait=False)
            for replica in made.replicas:
                made.wait_up(replica)
            for _ in range(workers):
                made.start_worker()
            for worker in made.workers:
                made.wait_worker_ready(worker)
            yield made
