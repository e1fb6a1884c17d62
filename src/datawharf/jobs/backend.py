"""Where background runs execute: in this process on threads (the default), or on Procrastinate workers.

A run is a row of the runs table (``jobs/runs.py``): the backend only delivers ``(kind, run_uid,
subject_uid)`` to the handler registered for ``kind``, at least once. Exactly-once effects come from the
handler claiming the run and fencing its writes, never from the backend, so a backend may deliver twice
(a retry, a worker that wakes up) and ``abort`` is only a best-effort hurry-up: the runs table's
``abort_requested`` is the truth every worker's heartbeat reads.

- ``threads`` (``ThreadsBackend``): the in-process ``ThreadPoolRunner`` with ``job_workers`` threads;
  ``datawharf serve`` runs the publishes it queues.
- ``procrastinate`` (``datawharf.jobs.procrastinate_backend``, the ``datawharf[distributed]`` extra):
  jobs in PostgreSQL, run by ``datawharf worker`` processes; ``serve`` only enqueues.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from datawharf.errors import InvalidInput
from datawharf.jobs.runner import JobContext, ThreadPoolRunner

if TYPE_CHECKING:
    from datawharf.settings import Settings
    from datawharf.store.db import Database

Handler = Callable[[JobContext, str, str], None]
"""``handler(context, run_uid, subject_uid)``: claims the run, does it, records its end."""

_HANDLERS: dict[str, Handler] = {}


class UnknownJobKind(InvalidInput):
    default_code = "unknown_job_kind"


def register(kind: str, handler: Handler) -> None:
    """The handler of ``kind`` runs (the last registration wins: a process registers once at start)."""
    _HANDLERS[kind] = handler


def handler_for(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise UnknownJobKind(
            f"No handler is registered for runs of kind {kind!r} (known: {sorted(_HANDLERS) or 'none'}): "
            "the process delivering it must register it at start (DatasetsRuntime registers 'publish').",
            detail={"kind": kind},
        ) from None


class JobBackend(Protocol):
    """What the runtime submits runs to."""

    runs_in_process: bool

    def submit(self, kind: str, run_uid: str, subject_uid: str) -> None: ...

    def abort(self, run_uid: str) -> None: ...

    def shutdown(self, wait: bool) -> None: ...


class ThreadsBackend:
    """Runs on this process's threads: submitting a run already submitted and not ended is a no-op, and
    shutdown is graceful (running handlers see ``context.stopping`` and hand their runs back)."""

    runs_in_process = True

    def __init__(self, workers: int) -> None:
        self.runner = ThreadPoolRunner(workers)
        # Handlers of this backend alone, before the process-wide ones: two runtimes in one process
        # (tests; an embedding app) each keep their own database.
        self.handlers: dict[str, Handler] = {}

    def submit(self, kind: str, run_uid: str, subject_uid: str) -> None:
        handler = self.handlers.get(kind) or handler_for(kind)

        def job(context: JobContext) -> None:
            handler(context, run_uid, subject_uid)

        self.runner.submit(run_uid, f"{kind} {subject_uid}", job)

    def is_active(self, run_uid: str) -> bool:
        """Whether this process already has the run queued or running (so a pass need not submit it)."""
        info = self.runner.status(run_uid)
        return info is not None and info.state in ("queued", "running")

    def abort(self, run_uid: str) -> None:
        self.runner.abort(run_uid)

    def shutdown(self, wait: bool) -> None:
        self.runner.shutdown(wait=wait, graceful=True)


def make_backend(settings: Settings, database: Database | None = None) -> JobBackend:
    """The backend ``DATAWHARF_JOB_BACKEND`` names; Procrastinate is imported only when chosen, and
    keeps its runs' bookkeeping on ``database`` (the caller's pool; without one it opens its own and
    closes it at shutdown)."""
    if settings.job_backend == "threads":
        return ThreadsBackend(settings.job_workers)
    try:
        module = importlib.import_module("datawharf.jobs.procrastinate_backend")
    except ImportError as exc:
        raise InvalidInput(
            f"DATAWHARF_JOB_BACKEND=procrastinate needs the distributed extra ({exc}): install "
            "'datawharf[distributed]', or set DATAWHARF_JOB_BACKEND=threads to run publishes in-process.",
            error_code="job_backend_unavailable",
        ) from exc
    backend: JobBackend = module.make_backend(settings, database)
    return backend
