"""``datawharf worker`` refuses, with the setting to change, what it cannot run on (no server needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _worker(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "datawharf", "worker"],
        env={**clean, "DATAWHARF_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "code", "named"),
    [
        ({}, "worker_needs_procrastinate", "DATAWHARF_JOB_BACKEND=procrastinate"),
        (
            {"DATAWHARF_JOB_BACKEND": "procrastinate"},
            "job_backend_needs_postgresql",
            "DATAWHARF_DATABASE_URL",
        ),
    ],
)
def test_the_worker_refuses_what_it_cannot_run_on(
    tmp_path: Path, env: dict[str, str], code: str, named: str
) -> None:
    done = _worker(tmp_path, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"[{code}]" in done.stderr and named in done.stderr, done.stderr
