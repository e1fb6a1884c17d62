"""``datawharf worker``: runs the publishes ``datawharf serve`` queued in PostgreSQL (Procrastinate).

Any number of workers, on any machines, share the database: each takes ``DATAWHARF_JOB_WORKERS`` runs at
once, and together they run the scheduling pass once a ``DATAWHARF_SCHEDULE_CRON`` tick. SIGTERM stops a
worker gracefully: its runs get ``DATAWHARF_WORKER_SHUTDOWN_GRACE`` seconds, then go back to the queue.
"""

from __future__ import annotations

import logging

from datawharf.cli.common import console, friendly_errors
from datawharf.errors import InvalidInput
from datawharf.settings import Settings


@friendly_errors
def worker() -> None:
    """Run queued publishes (Procrastinate) until SIGTERM or Ctrl-C, from the jobs in PostgreSQL.

    Needs DATAWHARF_JOB_BACKEND=procrastinate and a PostgreSQL DATAWHARF_DATABASE_URL, the same settings
    as the servers (DATAWHARF_SECRET_KEY, the warehouse)."""
    settings = Settings()
    if settings.job_backend != "procrastinate":
        raise InvalidInput(
            "datawharf worker runs publishes queued with DATAWHARF_JOB_BACKEND=procrastinate, but it is "
            f"{settings.job_backend!r}: with threads, 'datawharf serve' runs them itself. Set "
            "DATAWHARF_JOB_BACKEND=procrastinate (and a PostgreSQL DATAWHARF_DATABASE_URL) on the servers "
            "and the workers.",
            error_code="worker_needs_procrastinate",
        )
    # The core, imported once the settings are known to be right.
    from datawharf.datasets.runtime import DatasetsRuntime
    from datawharf.jobs.procrastinate_backend import ProcrastinateBackend, worker_name
    from datawharf.store.db import open_database

    # A worker's log is its output (a service manager keeps it): runs handed back, jobs started and ended.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    database = open_database(settings)
    runtime = DatasetsRuntime(settings, database)
    backend = runtime.backend
    assert isinstance(backend, ProcrastinateBackend)
    backend.set_periodic_pass(runtime.tick)
    console.print(
        f"datawharf worker {worker_name()}: {settings.job_workers} publishes at once, scheduling pass "
        f"at '{settings.schedule_cron}'",
        highlight=False,
    )
    try:
        backend.run_worker()
    finally:
        runtime.close()
        database.dispose()
    console.print("datawharf worker stopped", highlight=False)
