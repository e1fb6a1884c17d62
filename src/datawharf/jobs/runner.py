"""Running jobs in the background: submit, abort, status.

``JobRunner`` is the interface the rest of datawharf uses; ``ThreadPoolRunner`` runs jobs on an
in-process pool of threads (the default: publish work is I/O and Arrow compute, which release the GIL).
A distributed queue would implement the same three calls. Jobs must be idempotent about being run:
a job claims its work in the database before doing it, so a job submitted twice runs once.

Abort is cooperative: ``abort`` sets the job's ``cancelled`` event and the job stops at its next
check (``JobContext.check``), cleaning up as it unwinds. A graceful shutdown sets every job's
``stopping`` event instead: the check raises ``WorkerStopping`` and the job hands its run back (the
runs table requeues it for the next worker) rather than ending it.

A job tells it is alive with a ``Heartbeat``: a thread of its own that beats at a fixed pace, so that a
job blocked in a long read (a stalled S3 server, until the read timeout) is not taken for dead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol

from datawharf.errors import DatawharfError

if TYPE_CHECKING:
    from datawharf.jobs.runs import Attempt

log = logging.getLogger("datawharf.jobs")

JobState = Literal["queued", "running", "done", "failed", "aborted"]


class JobAborted(DatawharfError):
    default_code = "aborted"


class WorkerStopping(JobAborted):
    """The worker shuts down gracefully: the job gives its run back instead of ending it."""

    default_code = "worker_stopping"


@dataclass
class JobContext:
    """What a running job is given: its id, the abort signal, the graceful-stop signal, and (once the
    job claimed its run) the attempt that fences its writes."""

    job_id: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    attempt: Attempt | None = None

    def check(self) -> None:
        if self.cancelled.is_set():
            raise JobAborted(f"Job {self.job_id} was aborted.")
        if self.stopping.is_set():
            raise WorkerStopping(f"Job {self.job_id} stops with its worker; its run is handed back.")


JobFunction = Callable[[JobContext], None]


@dataclass
class JobInfo:
    job_id: str
    name: str
    state: JobState = "queued"
    error: str | None = None


class JobRunner(Protocol):
    def submit(self, job_id: str, name: str, function: JobFunction) -> JobInfo: ...

    def abort(self, job_id: str) -> bool: ...

    def status(self, job_id: str) -> JobInfo | None: ...

    def shutdown(self, wait: bool = True) -> None: ...


class ThreadPoolRunner:
    """Jobs on ``workers`` threads; finished jobs are forgotten after ``keep`` newer ones."""

    def __init__(self, workers: int = 2, *, keep: int = 200) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="datawharf-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[JobInfo, JobContext, Future[None]]] = {}
        self._keep = keep

    def submit(self, job_id: str, name: str, function: JobFunction) -> JobInfo:
        with self._lock:
            known = self._jobs.get(job_id)
            if known is not None and known[0].state in ("queued", "running"):
                return known[0]
            info = JobInfo(job_id=job_id, name=name)
            context = JobContext(job_id)
            future = self._pool.submit(self._run, info, context, function)
            self._jobs[job_id] = (info, context, future)
            self._forget_old()
        return info

    def _run(self, info: JobInfo, context: JobContext, function: JobFunction) -> None:
        if context.cancelled.is_set():
            info.state = "aborted"
            return
        info.state = "running"
        try:
            function(context)
        except WorkerStopping:
            info.state = "queued"  # handed back: the run is the next worker's
        except JobAborted:
            info.state = "aborted"
        except Exception as exc:  # a job's failure is its own business; the pool must go on
            info.state = "failed"
            info.error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("job %s (%s) failed", info.job_id, info.name)
        else:
            info.state = "aborted" if context.cancelled.is_set() else "done"

    def abort(self, job_id: str) -> bool:
        with self._lock:
            known = self._jobs.get(job_id)
        if known is None or known[0].state not in ("queued", "running"):
            return False
        known[1].cancelled.set()
        return True

    def status(self, job_id: str) -> JobInfo | None:
        with self._lock:
            known = self._jobs.get(job_id)
        return known[0] if known else None

    def wait(self, job_id: str, timeout: float | None = None) -> JobInfo | None:
        with self._lock:
            known = self._jobs.get(job_id)
        if known is None:
            return None
        known[2].exception(timeout=timeout)
        return known[0]

    def shutdown(self, wait: bool = True, *, graceful: bool = False) -> None:
        """Stop the pool. ``graceful``: running jobs are told to hand their runs back (``stopping``);
        otherwise they are aborted (``cancelled``). Jobs not started yet are dropped either way (their
        runs stay queued in the database)."""
        with self._lock:
            for _info, context, _future in self._jobs.values():
                (context.stopping if graceful else context.cancelled).set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _forget_old(self) -> None:
        finished = [
            k for k, (info, _c, _f) in self._jobs.items() if info.state in ("done", "failed", "aborted")
        ]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]


class Heartbeat:
    """Calls ``beat`` every ``interval`` seconds on its own thread while the ``with`` block runs.

    A failed beat (the database briefly locked) is logged and the next one tries again: the job itself
    is not disturbed. The block's end stops the thread and waits for a beat in progress.
    """

    def __init__(self, beat: Callable[[], None], interval: float, *, name: str) -> None:
        self._beat = beat
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._beat()
            except Exception:  # the next beat retries; the job goes on
                log.exception("heartbeat %s failed", self._thread.name)
