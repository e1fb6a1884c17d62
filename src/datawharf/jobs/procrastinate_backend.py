"""Runs on Procrastinate: jobs in the datawharf PostgreSQL database, run by ``datawharf worker`` processes.

Imported only when ``DATAWHARF_JOB_BACKEND=procrastinate`` (the ``datawharf[distributed]`` extra), so
neither ``datawharf --help`` nor the threads default pays for it.

Two tasks, on two queues:

- ``datawharf.run(kind, run_uid, subject_uid)`` on queue ``runs``: delivers the run to the handler
  registered for ``kind`` (``jobs.backend.register``). Deferred with ``queueing_lock=run_uid``, so a run
  has at most one job waiting; a second submit while one waits is a no-op. Delivery is at least once; the
  handler's claim and fences (``jobs/runs.py``) make the effect happen once.
- ``datawharf.schedule`` on queue ``schedules``, periodic (``DATAWHARF_SCHEDULE_CRON``, every minute):
  Procrastinate defers one job per tick across every worker (deduplicated in the database), and the job
  runs the periodic pass the worker registered (``set_periodic_pass``: the scheduling pass, stale-run
  recovery). Each worker process runs it on a Procrastinate worker of its own with one slot, so long
  publishes filling every ``runs`` slot never starve it.

Signals from Procrastinate reach the handler through its ``JobContext``: a user abort
(``cancel_job_by_id(abort=True)``, what ``abort`` does from any replica) sets ``cancelled``; the worker's
graceful stop (SIGTERM, once ``DATAWHARF_WORKER_SHUTDOWN_GRACE`` has passed) sets ``stopping``, and the
handler hands its run back. A run found ``queued`` again after its handler returns (handed back) is
deferred again at once, for another worker.

A worker killed outright (kill -9, a lost machine) leaves its run ``running`` with a heartbeat that stops:
the runs table, not Procrastinate's stalled-job retry, recovers it. ``runs.recover_stale`` (in the periodic
pass) compares the run's own heartbeat with the database clock, counts attempts against
``DATAWHARF_JOB_MAX_ATTEMPTS`` and requeues or fails the run, and the pass then submits what it requeued;
Procrastinate's retry knows only its worker's heartbeat, so the run would stay ``running`` in our table
and its retried job's claim would find nothing to claim. The killed worker's Procrastinate job, left
``doing``, is marked failed by the pass (``_close_stalled_jobs``) so the job table does not fill with
ghosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate import JobContext as ProcrastinateContext
from procrastinate import exceptions as procrastinate_errors
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from procrastinate.worker import Worker
from sqlalchemy import text
from sqlalchemy.engine import make_url

from datawharf.errors import InvalidInput
from datawharf.jobs import runs
from datawharf.jobs.backend import handler_for
from datawharf.jobs.runner import JobAborted, JobContext
from datawharf.settings import Settings
from datawharf.store.db import STARTUP_LOCK, Database

log = logging.getLogger("datawharf.jobs")

RUN_TASK = "datawharf.run"
SCHEDULE_TASK = "datawharf.schedule"
RUNS_QUEUE = "runs"
SCHEDULES_QUEUE = "schedules"
# How often a running job's watcher reads Procrastinate's abort flag (a dict lookup, no query).
WATCH_SECONDS = 0.2
# Procrastinate's own polling for abort requests and new jobs: the fallback behind LISTEN/NOTIFY.
POLL_SECONDS = 1.0
# Procrastinate's heartbeat of each worker process (its liveness, distinct from each run's own heartbeat).
WORKER_HEARTBEAT_SECONDS = 10.0
POOL_SIZE = 8

PeriodicPass = Callable[[], None]


class JobBackendNeedsPostgreSQL(InvalidInput):
    default_code = "job_backend_needs_postgresql"


def libpq_url(settings: Settings) -> str:
    """The database URL as libpq (psycopg's pool) takes it: the SQLAlchemy driver suffix dropped."""
    url = settings.effective_database_url
    if not url.startswith("postgresql"):
        raise JobBackendNeedsPostgreSQL(
            f"DATAWHARF_JOB_BACKEND=procrastinate keeps its jobs in PostgreSQL, but DATAWHARF_DATABASE_URL "
            f"is {url.split(':', 1)[0]!r}: set DATAWHARF_DATABASE_URL=postgresql+psycopg://user@host/db, "
            "or DATAWHARF_JOB_BACKEND=threads to run publishes in the server process."
        )
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(database: Database) -> None:
    """Apply Procrastinate's schema once, under the start-up lock (its SQL is not idempotent: of several
    processes starting together on a new database, one applies it and the others find it)."""

    def present() -> bool:
        with database.engine.connect() as connection:
            return connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None

    if present():
        return
    with database.exclusive(STARTUP_LOCK):
        if not present():
            with database.engine.begin() as connection:
                # psycopg's own execute: no parameters, so the SQL's '%' signs stay as they are
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute(SchemaManager.get_schema())
            log.info("applied the Procrastinate schema")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ProcrastinateBackend:
    """Submits and aborts runs as Procrastinate jobs; ``run_worker`` runs them (``datawharf worker``)."""

    runs_in_process = False

    def __init__(self, settings: Settings, database: Database, *, owns_database: bool = False) -> None:
        self.settings = settings
        self.database = database
        self.owns_database = owns_database  # opened for this backend alone: closed with it
        # Procrastinate's own short queries (defer, fetch, finish, beat): a small pool, opened lazily; the
        # runs' work goes through the datawharf engine.
        connector = PsycopgConnector(conninfo=libpq_url(settings), min_size=1, max_size=POOL_SIZE)
        self.app = App(connector=connector)
        self._periodic_pass: PeriodicPass | None = None
        self._open_lock = threading.Lock()
        self._sync_open = False
        self._define_tasks()

    # --- the API side: enqueue, abort ----------------------------------------------------------

    def _ensure_open(self) -> None:
        """Open the synchronous pool on first use, unless a worker's asynchronous one is open (then the
        connector runs sync calls on the worker's event loop)."""
        connector = self.app.connector
        if getattr(connector, "_async_pool", None) is not None:
            return
        with self._open_lock:
            if not self._sync_open:
                self.app.open()
                self._sync_open = True

    def submit(self, kind: str, run_uid: str, subject_uid: str) -> None:
        self._ensure_open()
        # AlreadyEnqueued: a job for this run already waits, and one is enough
        with contextlib.suppress(procrastinate_errors.AlreadyEnqueued):
            self.app.configure_task(RUN_TASK, queueing_lock=run_uid).defer(
                kind=kind, run_uid=run_uid, subject_uid=subject_uid
            )

    def abort(self, run_uid: str) -> None:
        """Best effort: the waiting job is cancelled, the running one asked to abort (the handler also
        reads ``abort_requested`` from the runs table with its heartbeat)."""
        self._ensure_open()
        manager = self.app.job_manager
        for job in manager.list_jobs(task=RUN_TASK, queueing_lock=run_uid):
            if job.id is not None and job.status in ("todo", "doing"):
                manager.cancel_job_by_id(job.id, abort=job.status == "doing")

    def shutdown(self, wait: bool) -> None:
        with self._open_lock:
            if self._sync_open:
                self.app.close()
                self._sync_open = False
        if self.owns_database:
            self.database.dispose()

    # --- the worker side ------------------------------------------------------------------------

    def set_periodic_pass(self, periodic_pass: PeriodicPass) -> None:
        """What the ``datawharf.schedule`` task runs (the worker registers the datasets' pass)."""
        self._periodic_pass = periodic_pass

    def _define_tasks(self) -> None:
        app = self.app

        @app.task(name=RUN_TASK, queue=RUNS_QUEUE, pass_context=True)
        def run(context: ProcrastinateContext, kind: str, run_uid: str, subject_uid: str) -> None:
            self._run(context, kind, run_uid, subject_uid)

        @app.periodic(cron=self.settings.schedule_cron, periodic_id="schedules")
        @app.task(name=SCHEDULE_TASK, queue=SCHEDULES_QUEUE, pass_context=False)
        async def schedule(timestamp: int) -> None:
            await asyncio.to_thread(self._run_periodic_pass)
            await self._close_stalled_jobs()

    def _run(self, job: ProcrastinateContext, kind: str, run_uid: str, subject_uid: str) -> None:
        handler = handler_for(kind)
        context = JobContext(run_uid)
        done = threading.Event()
        watcher = threading.Thread(
            target=_forward_signals, args=(job, context, done), name=f"datawharf-watch-{run_uid}", daemon=True
        )
        watcher.start()
        try:
            handler(context, run_uid, subject_uid)
        except JobAborted:
            pass  # aborted, stale or handed back: the runs table already says which
        finally:
            done.set()
            watcher.join()
        self._resubmit_if_handed_back(kind, run_uid, subject_uid)

    def _resubmit_if_handed_back(self, kind: str, run_uid: str, subject_uid: str) -> None:
        with self.database.session() as session:
            run = runs.get_run(session, run_uid)
            status = run.status if run is not None else None
        if status == "queued":
            log.info("run %s handed back by %s; queued for another worker", run_uid, worker_name())
            self.submit(kind, run_uid, subject_uid)

    def _run_periodic_pass(self) -> None:
        if self._periodic_pass is None:
            log.warning("no periodic pass registered in this worker; schedules are not checked")
            return
        self._periodic_pass()

    async def _close_stalled_jobs(self) -> None:
        """Mark failed the ``doing`` run jobs of workers that stopped beating (killed): their runs were
        recovered through the runs table; only the job rows are left to tidy."""
        manager = self.app.job_manager
        # Never closer than three of Procrastinate's worker heartbeats: a live worker between two beats
        # must not lose the job it runs.
        seconds = max(self.settings.job_stale_seconds, 3 * WORKER_HEARTBEAT_SECONDS)
        stalled = await manager.get_stalled_jobs(task_name=RUN_TASK, seconds_since_heartbeat=seconds)
        for job in stalled:
            if job.id is not None:
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)

    def run_worker(self) -> None:
        """Run the worker until SIGTERM or SIGINT: ``job_workers`` slots on ``runs`` and one on
        ``schedules``. A stop lets running runs go on for ``worker_shutdown_grace`` seconds, then tells
        them to hand their runs back."""
        asyncio.run(self._run_workers())

    async def _run_workers(self) -> None:
        name = worker_name()
        common: dict[str, Any] = {
            "install_signal_handlers": False,
            "shutdown_graceful_timeout": self.settings.worker_shutdown_grace,
            "fetch_job_polling_interval": POLL_SECONDS,
            "abort_job_polling_interval": POLL_SECONDS,
            "delete_jobs": "successful",
            "update_heartbeat_interval": WORKER_HEARTBEAT_SECONDS,
            "stalled_worker_timeout": 3 * WORKER_HEARTBEAT_SECONDS,
        }
        async with self.app.open_async():
            workers = [
                Worker(
                    self.app,
                    queues=[RUNS_QUEUE],
                    name=f"{name}/runs",
                    concurrency=self.settings.job_workers,
                    **common,
                ),
                Worker(self.app, queues=[SCHEDULES_QUEUE], name=f"{name}/schedules", concurrency=1, **common),
            ]
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, lambda: [worker.stop() for worker in workers])
            try:
                await asyncio.gather(*(worker.run() for worker in workers))
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)


def _forward_signals(job: ProcrastinateContext, context: JobContext, done: threading.Event) -> None:
    """Turn Procrastinate's abort flag into the handler's events: a user's abort cancels the run, the
    worker's shutdown asks the handler to hand it back."""
    while not done.wait(WATCH_SECONDS):
        reason = job.abort_reason()
        if reason == AbortReason.USER_REQUEST:
            context.cancelled.set()
        elif reason == AbortReason.SHUTDOWN:
            context.stopping.set()


def make_backend(settings: Settings, database: Database | None = None) -> ProcrastinateBackend:
    """The backend on the datawharf database, Procrastinate's schema applied (once, under the lock)."""
    libpq_url(settings)  # refuse SQLite before anything opens
    own = database is None
    database = database or Database(settings)
    backend = ProcrastinateBackend(settings, database, owns_database=own)
    try:
        ensure_schema(database)
    except Exception:
        if own:
            database.dispose()
        raise
    return backend
