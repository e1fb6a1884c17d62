"""``datawharf harvesters`` as a user runs it (subprocesses) on a home, against the moto server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from datawharf.settings import Settings
from datawharf.store.db import open_database
from datawharf.store.models.datasets import Dataset
from tests.integration.test_preview_cli import saved  # noqa: F401  (the fixture: a home, a connection)
from tests.support.moto import S3Bucket


def harvesters(home: Path, allowed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(home),
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed,
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},
    }
    return subprocess.run(
        [sys.executable, "-m", "datawharf", "harvesters", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def published(home: Path, allowed: str) -> dict[str, bool]:
    database = open_database(Settings(home=home, allowed_private_hosts=[allowed]))
    try:
        with database.session() as session:
            return {d.dataset_id: d.is_published for d in session.query(Dataset)}
    finally:
        database.dispose()


def test_create_run_list_and_delete_on_the_home(saved: tuple[Path, str], s3_bucket: S3Bucket) -> None:  # noqa: F811
    home, connection = saved
    allowed = s3_bucket.server.host_port
    for name in ("north", "south"):
        s3_bucket.put(f"counts/{name}.csv", b"station,count\na,1\nb,2\n")
    url = s3_bucket.url("counts/")
    made = harvesters(
        home,
        allowed,
        "create",
        url,
        "--name",
        "Counts",
        "--connection",
        connection,
        "--title",
        "Counts {stem}",
    )
    assert made.returncode == 0, made.stderr
    uid = re.search(r"Created harvester (hv_\w+)\.", made.stdout).group(1)  # type: ignore[union-attr]

    ran = harvesters(home, allowed, "run", uid, "--wait")
    assert ran.returncode == 0, ran.stderr
    assert "created 2" in ran.stdout and "2 made, 2 published" in ran.stdout, ran.stdout
    assert published(home, allowed) == {"north": True, "south": True}

    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key="counts/south.csv")
    ran = harvesters(home, allowed, "run", uid)
    assert ran.returncode == 0, ran.stderr
    assert "unpublished 1" in ran.stdout and "1 publishes queued" in ran.stdout, ran.stdout
    assert published(home, allowed) == {"north": True, "south": False}

    listed = harvesters(home, allowed, "list")
    assert listed.returncode == 0, listed.stderr
    assert uid in listed.stdout and "Counts" in listed.stdout

    bad = harvesters(home, allowed, "create", s3_bucket.url("counts/north.csv"), "--name", "One")
    assert bad.returncode == 1 and "invalid_harvester" in bad.stderr + bad.stdout, bad.stderr
    assert "Traceback" not in bad.stderr

    gone = harvesters(home, allowed, "delete", uid, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert uid not in harvesters(home, allowed, "list").stdout
    assert published(home, allowed) == {"north": True, "south": False}  # the datasets stay
