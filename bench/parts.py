"""One publish spread over workers as part runs (issue 18, item 4): what it buys, and what it costs.

``python -m bench.parts [--objects 2000] [--records 50] [--split 200] [--runs 1]``. The objects are
small gzip CSVs in nested prefixes (``bench.incremental.write_objects``), files of the bench's
localbucket folder (``bench.server``, nothing uploaded). The metadata and the jobs are in a fresh
PostgreSQL database (``bench.postgres``, dropped at the end), ``DATAWHARF_JOB_BACKEND=procrastinate``;
the warehouse is S3: another bucket of the same localbucket (``s3://dw-warehouse/<run>``, what several
machines need; localbucket takes the Parquet uploads, multipart included). Four contenders, each a
fresh set of ``datawharf worker`` subprocesses (``DATAWHARF_JOB_WORKERS=1``, the default
``DATAWHARF_SET_READ_THREADS``: four a core, so four objects at a time on the one core ``taskset``
leaves them)
publishing a fresh dataset on the glob:

- ``a``: one worker on core 0, ``DATAWHARF_SET_SPLIT_OBJECTS=0``: one worker reads the whole set;
- ``b``: one worker on core 0, split on: the parts, all run by that worker (what splitting costs);
- ``c``: two workers, on core 0 and core 1, split on: one publish over two one-core "machines";
- ``d``, the control for ``c``: one worker on core 0, no split, twice the read threads (as many objects
  read at once as ``c``): small objects cost more waiting than CPU, so ``c`` against ``a`` measures both
  the second core and the second reader; ``c`` against ``d`` leaves the core.

``--read-threads N`` sets ``DATAWHARF_SET_READ_THREADS`` of ``a``, ``b`` and ``c`` (``d``: 2N), to see
what the second core buys once one core is kept busy.

The bench process queues each publish as the API does (``DatasetsRuntime.publish``: the run requested,
committed, submitted to Procrastinate) and polls the dataset's row until it is at rest; that span is the
figure. Before it, each worker runs one small warm-up publish of its own (imports, first connections;
the other worker SIGSTOPped meanwhile, so it cannot take it): no contender pays for a cold process.
Every version's record count is checked, and the runs table says which worker ran the publish and
each part. Rounds interleave the contenders (``--runs``); medians, the ratios c/a and b/a and
objects/s go to ``bench/results/parts.json``. localbucket, PostgreSQL and the bench process are not
pinned: they share the two cores with the workers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import results_file
from bench.datawharf_contenders import _create_dataset, _sigv4
from bench.generate import BUCKET, DEFAULT_DATA_DIR
from bench.incremental import SERVER, _obj, write_objects
from bench.postgres import ADMIN_DSN, fresh_database
from bench.server import BenchServer
from bench.warehouse_s3 import WAREHOUSE_BUCKET
from datawharf.settings import default_set_read_threads

RESULTS = Path(__file__).resolve().parent / "results" / "parts.json"
ONE_CORE_DEFAULT = default_set_read_threads(cores=1)  # what a worker pinned to one core reads at once
WARM_OBJECTS = 10  # each worker's warm-up publish: a glob this small is never split
POLL_SECONDS = 0.05
PUBLISH_TIMEOUT = 1800.0
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Contender:
    name: str
    what: str
    cores: tuple[int, ...]  # one worker per core
    split: bool
    readers: int = 1  # DATAWHARF_SET_READ_THREADS is this many times the run's (or the one-core default)


CONTENDERS = (
    Contender("a", "one worker on core 0, no split", (0,), False),
    Contender("b", "one worker on core 0, split on (it runs every part)", (0,), True),
    Contender("c", "two workers on cores 0 and 1, split on", (0, 1), True),
    # Not a way to spread a publish: the control for c, as many objects read at once on one core.
    Contender(
        "d", "one worker on core 0, no split, twice the read threads (c's concurrency)", (0,), False, 2
    ),
)


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux's /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Worker:
    """One ``datawharf worker`` subprocess pinned to one core; its output in ``log``."""

    core: int
    process: subprocess.Popen[bytes]
    log: Path

    def owns(self, worker_name: str | None) -> bool:
        """Whether a run row's ``worker`` (``host:pid``) is this process."""
        return worker_name is not None and worker_name.endswith(f":{self.process.pid}")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while "publishes at once" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker on core {self.core} did not start:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a worker stopped for another's warm-up
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Bench:
    """The bench process's side: the database, one connection on localbucket, the runtime that queues
    (``DatasetsRuntime`` on the procrastinate backend: it submits, the workers run), and the settings
    every worker gets through its environment."""

    def __init__(self, server: BenchServer, database_url: str, warehouse: str, root: Path) -> None:
        from cryptography.fernet import Fernet

        from datawharf.connections import service as connections
        from datawharf.connections.schemas import ConnectionCreate
        from datawharf.datasets.runtime import DatasetsRuntime
        from datawharf.settings import Settings
        from datawharf.store.db import open_database

        self.root = root
        self.obj = _obj(server, "")
        # What every process shares, as a real deployment does: database, secret key, warehouse, backend.
        self.shared: dict[str, str] = {
            "database_url": database_url,
            "secret_key": Fernet.generate_key().decode(),
            "job_backend": "procrastinate",
            "warehouse_url": warehouse,
            "warehouse_endpoint_url": self.obj.endpoint_url,
            "warehouse_access_key_id": self.obj.access_key,
            "warehouse_secret_access_key": self.obj.secret_key,
            "allowed_private_hosts": self.obj.host_port,
        }
        values: dict[str, Any] = {**self.shared, "allowed_private_hosts": [self.obj.host_port]}
        self.settings = Settings(home=root / "bench", **values)
        self.database = open_database(self.settings)
        self.runtime = DatasetsRuntime(self.settings, self.database)
        with self.database.session() as session:
            made = connections.create_connection(
                session, self.settings, ConnectionCreate.model_validate(_sigv4(self.obj))
            )
            self.connection_uid = made.uid
        self._homes = 0

    def close(self) -> None:
        self.runtime.close()
        self.database.dispose()

    def dataset(self, url: str) -> str:
        datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": self.connection_uid}}
        return _create_dataset(self.database, self.settings, datasource, title=url)

    @contextmanager
    def workers(self, contender: Contender, split: int, read_threads: int | None) -> Iterator[list[Worker]]:
        """The contender's workers, started and ready; stopped on exit. ``read_threads`` None: the
        default, which is 1 on the one core a worker is pinned to."""
        import datawharf

        source = str(Path(datawharf.__file__).resolve().parents[1])  # the workers run this very code
        with ExitStack() as stack:
            started: list[Worker] = []
            for core in contender.cores:
                self._homes += 1
                home = self.root / f"worker{self._homes}"
                home.mkdir(parents=True)
                env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
                env |= {f"DATAWHARF_{name.upper()}": value for name, value in self.shared.items()}
                env |= {
                    "DATAWHARF_HOME": str(home),
                    "DATAWHARF_JOB_WORKERS": "1",
                    "DATAWHARF_SET_SPLIT_OBJECTS": str(split if contender.split else 0),
                    "PYTHONPATH": os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")])),
                    "PYTHONUNBUFFERED": "1",
                }
                if read_threads is not None or contender.readers != 1:
                    env["DATAWHARF_SET_READ_THREADS"] = str(
                        contender.readers * (read_threads or ONE_CORE_DEFAULT)
                    )
                log = home / "worker.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        ["taskset", "-c", str(core), sys.executable, "-m", "datawharf", "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                worker = Worker(core, process, log)
                stack.callback(worker.stop)
                started.append(worker)
            for worker in started:
                worker.wait_ready()
            yield started

    def publish(self, uids: list[str]) -> float:
        """Queue a publish of each dataset, as the API does, and wait until all are at rest: seconds."""
        from sqlalchemy import select

        from datawharf.datasets.status import RESTING
        from datawharf.store.models.datasets import Dataset

        started = time.perf_counter()
        for uid in uids:
            with self.database.session() as session:
                self.runtime.publish(session, uid)
        deadline = time.monotonic() + PUBLISH_TIMEOUT
        while True:
            with self.database.session() as session:
                statuses = session.scalars(select(Dataset.status).where(Dataset.uid.in_(uids))).all()
            if all(status in RESTING for status in statuses):
                return time.perf_counter() - started
            if time.monotonic() > deadline:
                raise RuntimeError(f"publishes not at rest after {PUBLISH_TIMEOUT} s: {statuses}")
            time.sleep(POLL_SECONDS)

    def warm_up(self, worker: Worker, workers: list[Worker], uid: str) -> None:
        """A small publish run by ``worker``: the others are stopped (SIGSTOP) meanwhile, so none of them
        takes it."""
        others = [w for w in workers if w is not worker]
        try:
            for other in others:
                other.process.send_signal(signal.SIGSTOP)
            self.publish([uid])
        finally:
            for other in others:
                other.process.send_signal(signal.SIGCONT)

    def outcome(self, uid: str, expected_records: int, workers: list[Worker]) -> dict[str, Any]:
        """The dataset's version (its record count checked) and who ran its publish and its parts."""
        from sqlalchemy import select

        from datawharf.datasets import parts
        from datawharf.store.models.datasets import Dataset, DatasetVersion
        from datawharf.store.models.runs import Run

        def core_of(name: str | None) -> int | None:
            return next((w.core for w in workers if w.owns(name)), None)

        with self.database.session() as session:
            dataset = session.get(Dataset, uid)
            assert dataset is not None
            if dataset.status != "idle" or dataset.current_version_uid is None:
                raise RuntimeError(f"publish of {uid} ended {dataset.status}: {dataset.status_message}")
            version = session.get(DatasetVersion, dataset.current_version_uid)
            assert version is not None
            if version.records_count != expected_records:
                raise RuntimeError(
                    f"version of {uid}: {version.records_count} records, {expected_records} written"
                )
            # Each dataset of the bench is published once: its one publish run.
            publish = session.scalars(select(Run).where(Run.kind == "publish", Run.subject_uid == uid)).one()
            part_runs = session.scalars(
                select(Run).where(Run.kind == parts.PUBLISH_PART, Run.parent_uid == publish.uid)
            ).all()
            by_core: dict[str, int] = {}
            for part in part_runs:
                if part.status != "done":
                    raise RuntimeError(f"part {part.uid} ended {part.status}: {part.error}")
                key = f"core{core_of(part.worker)}"
                by_core[key] = by_core.get(key, 0) + 1
            return {
                "version_records": version.records_count,
                "version_files": len(version.files),
                "bytes_read": dataset.bytes_done,
                "coordinator_core": core_of(publish.worker),
                "parts": len(part_runs),
                "parts_by_core": dict(sorted(by_core.items())),
            }


def _measure(
    bench: Bench,
    contender: Contender,
    split: int,
    read_threads: int | None,
    globs: tuple[str, str],
    records: int,
    objects: int,
) -> dict[str, Any]:
    """One timed publish of a fresh dataset by the contender's fresh workers, each warmed up first."""
    glob, warm_glob = globs
    uid = bench.dataset(glob)
    warm = [bench.dataset(warm_glob) for _ in contender.cores]
    with bench.workers(contender, split, read_threads) as workers:
        for worker, warm_uid in zip(workers, warm, strict=True):
            bench.warm_up(worker, workers, warm_uid)
        warmed = sorted(bench.outcome(w, WARM_OBJECTS * records, workers)["coordinator_core"] for w in warm)
        before = [_cpu_seconds(w.process.pid) for w in workers]
        seconds = bench.publish([uid])
        after = [_cpu_seconds(w.process.pid) for w in workers]
        figures = bench.outcome(uid, objects * records, workers)
    cpu = {
        f"core{w.core}": round(b - a, 2) if a is not None and b is not None else None
        for w, a, b in zip(workers, before, after, strict=True)
    }
    return {
        "publish_s": round(seconds, 3),
        "objects_per_s": round(objects / seconds, 1),
        **figures,
        "worker_cpu_s": cpu,
        "warmed_up_cores": warmed,
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def run(
    objects: int,
    records: int,
    split: int,
    runs: int,
    data_dir: Path,
    out: Path | None,
    *,
    admin_dsn: str = ADMIN_DSN,
    read_threads: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    root = data_dir / BUCKET
    prefix = f"parts-{time.time_ns()}"
    warm_prefix = f"{prefix}-warm"
    warehouse = data_dir / WAREHOUSE_BUCKET
    measured: dict[str, list[dict[str, Any]]] = {c.name: [] for c in CONTENDERS}
    try:
        set_bytes = write_objects(root, prefix, range(objects), records)
        write_objects(root, warm_prefix, range(WARM_OBJECTS), records)
        warehouse.mkdir(parents=True, exist_ok=True)
        globs = (f"{prefix}/**/stations-*.csv.gz", f"{warm_prefix}/**/stations-*.csv.gz")
        with (
            fresh_database(admin_dsn) as database_url,
            BenchServer(data_dir) as server,
            tempfile.TemporaryDirectory(prefix="dw-bench-parts-") as tmp,
        ):
            bench = Bench(server, database_url, f"s3://{WAREHOUSE_BUCKET}/{prefix}", Path(tmp))
            try:
                for round_ in range(runs):
                    for contender in CONTENDERS:
                        figures = _measure(bench, contender, split, read_threads, globs, records, objects)
                        measured[contender.name].append(figures)
                        progress(
                            f"round {round_ + 1}/{runs} {contender.name} ({contender.what}): "
                            f"{figures['publish_s']} s, {figures['parts']} part(s) {figures['parts_by_core']}"
                        )
            finally:
                bench.close()
    finally:
        shutil.rmtree(root / prefix, ignore_errors=True)
        shutil.rmtree(root / warm_prefix, ignore_errors=True)
        shutil.rmtree(warehouse / prefix, ignore_errors=True)
    medians = {
        name: round(statistics.median(f["publish_s"] for f in runs_), 3) for name, runs_ in measured.items()
    }
    result = {
        "what": "issue 18 item 4: one publish of a glob on procrastinate workers, unsplit vs split over one "
        "and two one-core workers (and d, unsplit with two read threads: c's concurrency on one core)",
        "objects": objects,
        "records_each": records,
        "split_objects": split,
        "read_threads": read_threads or f"the default ({ONE_CORE_DEFAULT} on the worker's one core)",
        "set_bytes": set_bytes,
        "runs": runs,
        "s3_server": SERVER,
        "warehouse": f"S3: s3://{WAREHOUSE_BUCKET}/<run> on the same localbucket",
        "queued_by": "the bench process: DatasetsRuntime.publish (the run requested, committed, deferred)",
        "timed": "from the publish queued to the dataset at rest (its row polled every "
        f"{POLL_SECONDS} s), workers started and warmed up before",
        "machine": results_file.machine(),
        "contenders": {c.name: c.what for c in CONTENDERS},
        "measured": measured,
        "median_s": medians,
        "objects_per_s": {name: round(objects / s, 1) for name, s in medians.items()},
        "ratio_c_over_a": _ratio(medians["c"], medians["a"]),
        "ratio_b_over_a": _ratio(medians["b"], medians["a"]),
        "ratio_d_over_a": _ratio(medians["d"], medians["a"]),
        "ratio_c_over_d": _ratio(medians["c"], medians["d"]),
    }
    results_file.write(out, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=2000, help="small objects in the glob (default 2000)")
    parser.add_argument("--records", type=int, default=50, help="records per object (default 50)")
    parser.add_argument("--split", type=int, default=200, help="objects per part when split (default 200)")
    parser.add_argument("--runs", type=int, default=1, help="interleaved rounds a, b, c, d (default 1)")
    parser.add_argument(
        "--read-threads",
        type=int,
        default=None,
        help="DATAWHARF_SET_READ_THREADS of a, b, c (d: twice it); default: unset (4 on one core)",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="localbucket's folder")
    parser.add_argument("--postgres", default=ADMIN_DSN, help=f"DSN that may create databases ({ADMIN_DSN})")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    result = run(
        args.objects,
        args.records,
        args.split,
        args.runs,
        args.data_dir,
        args.out,
        admin_dsn=args.postgres,
        read_threads=args.read_threads,
        progress=print,
    )
    median, rate = result["median_s"], result["objects_per_s"]
    print(
        f"{args.objects} objects, split {args.split}: a {median['a']} s ({rate['a']} objects/s), "
        f"b {median['b']} s ({rate['b']}/s), c {median['c']} s ({rate['c']}/s), d {median['d']} s "
        f"({rate['d']}/s); c/a {result['ratio_c_over_a']}, b/a {result['ratio_b_over_a']}, "
        f"d/a {result['ratio_d_over_a']}, c/d {result['ratio_c_over_d']}"
    )


if __name__ == "__main__":
    main()
