"""What the server runs besides requests: the publish workers and the scheduler thread.

Made by the app lifespan (``start_runtime``), closed with it. At start it marks the runs that died with
a previous process as failed and removes every warehouse folder the database does not reference (what
a process killed mid-publish leaves); then every ``scheduler_interval`` seconds it starts due schedules
("refresh if changed"), picks up runs queued by other processes (the CLI without ``--wait``), and fails
runs whose worker stopped beating; every ``warehouse_sweep_interval`` seconds it sweeps the warehouse
again (a CLI publish killed mid-run, a deletion interrupted after its commit).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets import control, incremental
from datawharf.datasets.locate import Locator, stream_locator
from datawharf.datasets.publish import PublishRun, worker_is_dead
from datawharf.datasets.scheduler import queue_due_schedules
from datawharf.datasets.service import RUNNING
from datawharf.jobs.runner import JobContext, ThreadPoolRunner
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import utcnow
from datawharf.store.models.datasets import Dataset, DatasetVersion
from datawharf.store.warehouse import References, Swept, make_warehouse

log = logging.getLogger("datawharf.datasets")


class DatasetsRuntime:
    def __init__(self, settings: Settings, database: Database, *, locator: Locator | None = None) -> None:
        self.settings = settings
        self.database = database
        self.locator = locator or stream_locator(database.session, settings)
        self.runner = ThreadPoolRunner(settings.job_workers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="datawharf-scheduler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.runner.shutdown(wait=True)

    # --- runs ------------------------------------------------------------------------------------

    def publish(self, session: Session, dataset_uid: str, *, only_if_changed: bool = False) -> Dataset:
        """Queue a publish and hand it to a worker: what the API and the backoffice do.

        Commits first: the worker's own session must see the dataset ``queued`` before it starts.
        """
        dataset = control.request_publish(session, dataset_uid, only_if_changed=only_if_changed)
        run_uid = dataset.run_uid
        session.commit()
        if run_uid is not None:
            self.submit_run(dataset_uid, run_uid)
        return dataset

    def abort(self, session: Session, dataset_uid: str) -> Dataset:
        """Ask the dataset's run to stop (committed first, as for ``publish``) and signal its worker."""
        dataset = control.request_abort(session, dataset_uid)
        run_uid = dataset.run_uid
        session.commit()
        if run_uid is not None:
            self.abort_run(run_uid)
        return dataset

    def submit_run(self, dataset_uid: str, run_uid: str) -> None:
        def job(context: JobContext) -> None:
            PublishRun(self.database, self.settings, dataset_uid, run_uid, self.locator, context).execute()

        self.runner.submit(run_uid, f"publish {dataset_uid}", job)

    def abort_run(self, run_uid: str) -> None:
        self.runner.abort(run_uid)

    # --- housekeeping ----------------------------------------------------------------------------

    def recover(self) -> None:
        with self.database.session() as session:
            failed = control.recover_interrupted(session, worker_is_dead)
        for uid in failed:
            log.warning("publish of %s was interrupted by a stop; marked as error", uid)
        self.sweep_warehouse()

    def sweep_warehouse(self) -> Swept:
        """Remove the warehouse folders the database does not reference (after dead runs are failed:
        a dataset still running then has a live worker, and its folders are left alone)."""
        self._last_sweep = time.monotonic()
        return make_warehouse(self.settings).sweep(self._references)

    def _references(self) -> References:
        datasets: dict[str, set[str]] = {}
        live: set[str] = set()
        with self.database.session() as session:
            for uid, status in session.execute(select(Dataset.uid, Dataset.status)):
                datasets[uid] = set()
                if status in RUNNING:
                    live.add(uid)
            for dataset_uid, data_uid, files in session.execute(
                select(DatasetVersion.dataset_uid, DatasetVersion.data_uid, DatasetVersion.files)
            ):
                # A version's own folder and those of the parts it shares (incremental.py).
                datasets.setdefault(dataset_uid, set()).update(incremental.folders_of(data_uid, files or []))
        return References(datasets=datasets, live=live)

    def tick(self) -> None:
        """One pass of the scheduler (public so tests can drive it without waiting)."""
        now = utcnow()
        with self.database.session() as session:
            control.recover_interrupted(session, worker_is_dead, now=now)
        submitted = queue_due_schedules(self.database, now)
        with self.database.session() as session:
            queued = session.execute(
                select(Dataset.uid, Dataset.run_uid).where(
                    Dataset.status == "queued", Dataset.run_uid.is_not(None)
                )
            ).all()
        for dataset_uid, run_uid in [*submitted, *((d, r) for d, r in queued if r is not None)]:
            info = self.runner.status(run_uid)
            if info is None:
                self.submit_run(dataset_uid, run_uid)
        if time.monotonic() - self._last_sweep >= self.settings.warehouse_sweep_interval:
            self.sweep_warehouse()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.scheduler_interval):
            try:
                self.tick()
            except Exception:  # the scheduler thread must outlive a failed pass: the next one retries
                log.exception("scheduler pass failed")


def start_runtime(settings: Settings, database: Database) -> DatasetsRuntime:
    runtime = DatasetsRuntime(settings, database)
    runtime.start()
    return runtime
