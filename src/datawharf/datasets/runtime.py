"""What the server runs besides requests: the publish workers and the scheduler thread.

Made by the app lifespan (``start_runtime``), closed with it. Publishes run on the job backend
(``jobs/backend.py``, ``DATAWHARF_JOB_BACKEND``) as the "publish" handler registered here. At start it
recovers the runs that died with a previous process (``control.recover_runs``: retried while they have
attempts left, else failed) and removes every warehouse folder the database does not reference (what a
process killed mid-publish leaves); then every ``scheduler_interval`` seconds it starts due schedules
("refresh if changed") and due harvesters (``harvest/``, on a thread of their own), picks up runs
queued by other processes (the CLI without ``--wait``, a run handed back by a stopping server), and
recovers runs whose worker stopped beating (harvest passes too: ``harvest/control.recover_passes``);
every ``warehouse_sweep_interval`` seconds it sweeps the warehouse again (a CLI publish killed mid-run,
a deletion interrupted after its commit). Closing it stops gracefully: running publishes are handed
back (queued for the next start or another worker), not aborted.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets import control, incremental, parts
from datawharf.datasets.locate import Locator, stream_locator
from datawharf.datasets.publish import PublishRun
from datawharf.datasets.scheduler import queue_due_schedules
from datawharf.datasets.service import RUNNING
from datawharf.harvest import control as harvest_control
from datawharf.harvest.control import Aborted
from datawharf.harvest.harvest import run_harvest
from datawharf.harvest.scheduler import run_due_harvesters
from datawharf.jobs import backend as jobs
from datawharf.jobs.backend import JobBackend, ThreadsBackend
from datawharf.jobs.runner import JobContext, ThreadPoolRunner
from datawharf.jobs.runs import worker_is_dead
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
        jobs.register(control.PUBLISH, self.run_publish)
        jobs.register(control.PUBLISH_PART, self.run_part)
        self.backend: JobBackend = jobs.make_backend(settings, database)
        # Harvester passes (list a folder, queue publishes) are not runs: a thread of their own here.
        self.harvests = ThreadPoolRunner(1)
        # harvester uid -> the runs of its passes handed to ``harvests``
        self._passes: dict[str, set[str]] = {}
        self._passes_lock = threading.Lock()
        if isinstance(self.backend, ThreadsBackend):
            # This runtime's own handler: several runtimes in one process (tests) keep their databases.
            self.backend.handlers[control.PUBLISH] = self.run_publish
            self.backend.handlers[control.PUBLISH_PART] = self.run_part
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0

    def start(self) -> None:
        if not self.backend.runs_in_process:
            # A queue backend: 'datawharf worker's run the publishes, and their periodic task makes the
            # scheduling pass and the recovery (``tick``); this process only queues.
            return
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="datawharf-scheduler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.harvests.shutdown(wait=True)
        self.backend.shutdown(wait=True)

    # --- runs ------------------------------------------------------------------------------------

    def publish(self, session: Session, dataset_uid: str, *, only_if_changed: bool = False) -> Dataset:
        """Queue a publish and hand it to a worker: what the API and the backoffice do.

        Commits first: the worker's own session must see the dataset ``queued`` before it starts.
        """
        dataset = control.request_publish(
            session, dataset_uid, only_if_changed=only_if_changed, max_attempts=self.settings.run_max_attempts
        )
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

    def run_publish(self, context: JobContext, run_uid: str, dataset_uid: str) -> None:
        """The "publish" handler: claims the run (a run delivered twice executes once) and executes it."""
        PublishRun(
            self.database,
            self.settings,
            dataset_uid,
            run_uid,
            self.locator,
            context,
            submit_part=self.submit_part,
        ).execute()

    def run_part(self, context: JobContext, run_uid: str, dataset_uid: str) -> None:
        """The "publish_part" handler: a slice of a publish's objects (``parts.py``), claimed first."""
        parts.PartRun(self.database, self.settings, run_uid, self.locator, context).execute()

    def submit_part(self, run_uid: str, dataset_uid: str) -> None:
        self.backend.submit(control.PUBLISH_PART, run_uid, dataset_uid)

    def submit_run(self, dataset_uid: str, run_uid: str) -> None:
        self.backend.submit(control.PUBLISH, run_uid, dataset_uid)

    def harvest(self, harvester_uid: str, run_uid: str) -> None:
        """Run a harvester's queued pass (``harvest/control.request_pass``) on a worker ("start", "run
        now"); submitted twice, it runs once (the pass claims its run)."""

        def job(context: JobContext) -> None:
            run_harvest(
                self.database, self.settings, harvester_uid, self.submit_run, run_uid=run_uid, context=context
            )

        with self._passes_lock:
            mine = self._passes.setdefault(harvester_uid, set())
            for ended in [uid for uid in mine if not self._pass_is_active(uid)]:
                mine.discard(ended)
            mine.add(run_uid)
        self.harvests.submit(f"harvest:{run_uid}", f"harvest {harvester_uid}", job)

    def _pass_is_active(self, run_uid: str) -> bool:
        info = self.harvests.status(f"harvest:{run_uid}")
        return info is not None and info.state in ("queued", "running")

    def stop_passes_here(self, harvester_uid: str) -> None:
        """Signal this process's passes of the harvester to stop, before the abort is written: a pass
        saving its keys holds the locks the abort's transaction waits for, and stops (rolled back) at
        its next key only if told without the database."""
        with self._passes_lock:
            mine = list(self._passes.get(harvester_uid, ()))
        for run_uid in mine:
            self.harvests.abort(f"harvest:{run_uid}")

    def abort_harvest(self, aborted: Aborted) -> None:
        """Signal this process's workers of what ``harvest/control.request_abort`` stopped."""
        for run_uid in aborted.passes:
            self.harvests.abort(f"harvest:{run_uid}")
        for run_uid in aborted.publishes:
            self.abort_run(run_uid)

    def abort_run(self, run_uid: str) -> None:
        self.backend.abort(run_uid)

    def _recover(self) -> list[tuple[str, str, str]]:
        """Runs whose worker is gone: retried ones are submitted again; returns them."""
        with self.database.session(write_lock=True) as session:
            retried = control.recover_runs(session, self.settings.job_stale_seconds, worker_is_dead)
            passes = harvest_control.recover_passes(session)
        for kind, dataset_uid, run_uid in retried:
            log.warning("%s %s of %s lost its worker; retried", kind, run_uid, dataset_uid)
            self.backend.submit(kind, run_uid, dataset_uid)
        for harvester_uid, run_uid in passes:
            self.harvest(harvester_uid, run_uid)
        return retried

    # --- housekeeping ----------------------------------------------------------------------------

    def recover(self) -> None:
        self._recover()
        self.sweep_warehouse()
        self._submit_queued()

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
        self._recover()
        for dataset_uid, run_uid in queue_due_schedules(self.database, now):
            self.submit_run(dataset_uid, run_uid)
        run_due_harvesters(self.database, self.settings, now, self.submit_run)
        self._submit_queued()
        if time.monotonic() - self._last_sweep >= self.settings.warehouse_sweep_interval:
            self.sweep_warehouse()

    def _submit_queued(self) -> None:
        """Runs queued that this process does not have yet (queued by the CLI, handed back by a server
        that stopped). A queue backend keeps at most one waiting job a run (Procrastinate's queueing
        lock), so submitting a run it already holds is a no-op there."""
        with self.database.session() as session:
            queued = session.execute(
                select(Dataset.uid, Dataset.run_uid).where(
                    Dataset.status == "queued", Dataset.run_uid.is_not(None)
                )
            ).all()
        for dataset_uid, run_uid in queued:
            if run_uid is None:
                continue
            if isinstance(self.backend, ThreadsBackend) and self.backend.is_active(run_uid):
                continue
            self.submit_run(dataset_uid, run_uid)

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
