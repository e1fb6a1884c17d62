"""The README's first command, for real: ``datawharf serve`` on an empty home prints a working admin key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.cli import after_target_line
from tests.support.processes import datawharf_serve, serve_log, stop


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},  # this tree's code
    }
    return subprocess.run(
        [sys.executable, "-m", "datawharf", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_serve_on_empty_home_prints_a_working_admin_key(tmp_path: Path) -> None:
    with datawharf_serve(tmp_path) as (base_url, process):
        stop(process)
    output = serve_log(tmp_path).read_text()
    key = re.search(r"^([0-9a-f]{64})$", output, re.MULTILINE)
    assert key, output
    assert "/backoffice/" in output
    with datawharf_serve(tmp_path) as (base_url, process):
        response = httpx.get(
            f"{base_url}/api/automation/v1.0/apikeys/", headers={"Authorization": f"apikey {key.group(1)}"}
        )
        stop(process)
    second_output = serve_log(tmp_path).read_text()[len(output) :]
    assert response.status_code == 200
    assert response.json()["total_count"] == 1
    assert key.group(1) not in second_output  # printed once, on the first start only


def test_apikeys_create_list_revoke(tmp_path: Path) -> None:
    created = _cli(tmp_path, "apikeys", "create", "--label", "ci robot", "-p", "edit_domain")
    assert created.returncode == 0, created.stderr
    uid = re.search(r"(ak_[a-z0-9]+)", created.stdout).group(1)
    clear = re.search(r"^([0-9a-f]{64})$", created.stdout, re.MULTILINE).group(1)
    listed = _cli(tmp_path, "apikeys", "list")
    assert uid in listed.stdout and "ci robot" in listed.stdout and clear not in listed.stdout
    # Which home it read, on stderr: an empty list of the wrong home is never silent (issue 17).
    assert listed.stderr == f"datawharf: home {tmp_path} (set DATAWHARF_URL to use a running server)\n"
    datasets = _cli(tmp_path, "datasets", "list")  # the stdlib's road (a current SQLite home) names it too
    assert datasets.returncode == 0 and "dataset_id" in datasets.stdout, datasets.stderr
    assert datasets.stderr == listed.stderr
    assert _cli(tmp_path, "apikeys", "revoke", uid).returncode == 0
    assert after_target_line(_cli(tmp_path, "apikeys", "revoke", "ak_missing").stderr).startswith(
        "error [apikey_not_found]"
    )
