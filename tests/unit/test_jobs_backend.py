"""Job backends (jobs/backend.py): handlers by kind, the threads backend, the choice by setting."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from datawharf.errors import InvalidInput
from datawharf.jobs import backend
from datawharf.jobs.backend import ThreadsBackend, UnknownJobKind, make_backend
from datawharf.jobs.runner import JobContext
from datawharf.settings import Settings


def test_threads_backend_runs_the_registered_handler(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []
    done = threading.Event()

    def handler(context: JobContext, run_uid: str, subject_uid: str) -> None:
        seen.append((context.job_id, run_uid, subject_uid))
        done.set()

    backend.register("test_kind", handler)
    jobs = make_backend(Settings(home=tmp_path, job_workers=1))
    assert isinstance(jobs, ThreadsBackend) and jobs.runs_in_process
    try:
        jobs.submit("test_kind", "ru_1", "da_1")
        assert done.wait(10)
    finally:
        jobs.shutdown(wait=True)
    assert seen == [("ru_1", "ru_1", "da_1")]


def test_unknown_kind_is_refused_at_submit(tmp_path: Path) -> None:
    jobs = ThreadsBackend(1)
    try:
        with pytest.raises(UnknownJobKind) as refused:
            jobs.submit("no_such_kind", "ru_1", "da_1")
        assert refused.value.error_code == "unknown_job_kind"
        assert "no_such_kind" in refused.value.message
    finally:
        jobs.shutdown(wait=True)


def test_graceful_shutdown_tells_running_handlers_to_stop_not_abort() -> None:
    started = threading.Event()
    outcome: list[str] = []

    def handler(context: JobContext, run_uid: str, subject_uid: str) -> None:
        started.set()
        while True:
            try:
                context.check()
            except Exception as exc:
                outcome.append(type(exc).__name__)
                outcome.append("stopping" if context.stopping.is_set() else "")
                outcome.append("cancelled" if context.cancelled.is_set() else "")
                raise
            threading.Event().wait(0.01)

    backend.register("test_stopping", handler)
    jobs = ThreadsBackend(1)
    jobs.submit("test_stopping", "ru_s", "da_s")
    assert started.wait(10)
    assert jobs.is_active("ru_s")
    jobs.shutdown(wait=True)
    assert outcome == ["WorkerStopping", "stopping", ""]
    info = jobs.runner.status("ru_s")
    assert info is not None and info.state == "queued"  # handed back, not aborted or failed


def test_abort_signals_the_handler() -> None:
    started = threading.Event()
    ended: list[str] = []

    def handler(context: JobContext, run_uid: str, subject_uid: str) -> None:
        started.set()
        assert context.cancelled.wait(10)
        ended.append(run_uid)

    backend.register("test_abort", handler)
    jobs = ThreadsBackend(1)
    try:
        jobs.submit("test_abort", "ru_a", "da_a")
        assert started.wait(10)
        jobs.abort("ru_a")
    finally:
        jobs.shutdown(wait=True)
    assert ended == ["ru_a"]


def test_procrastinate_without_its_module_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datawharf.jobs.procrastinate_backend", None)  # import fails
    with pytest.raises(InvalidInput) as refused:
        make_backend(Settings(home=tmp_path, job_backend="procrastinate"))
    assert refused.value.error_code == "job_backend_unavailable"
    assert "datawharf[distributed]" in refused.value.message


def test_settings_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=tmp_path)
    defaults = (settings.job_backend, settings.run_max_attempts, settings.job_stale_seconds)
    assert defaults == ("threads", 1, 120)  # an in-process run is not retried unless asked
    monkeypatch.setenv("DATAWHARF_JOB_BACKEND", "procrastinate")
    assert Settings(home=tmp_path).run_max_attempts == 2
    monkeypatch.setenv("DATAWHARF_JOB_MAX_ATTEMPTS", "3")
    settings = Settings(home=tmp_path)
    assert (settings.job_backend, settings.run_max_attempts) == ("procrastinate", 3)
