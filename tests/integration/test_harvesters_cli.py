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
from tests.integration.test_cli_server import KEY, cli
from tests.integration.test_preview_cli import saved  # noqa: F401  (the fixture: a home, a connection)
from tests.support.moto import MotoServer, S3Bucket
from tests.support.processes import datawharf_serve


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

    s3_bucket.put("counts/west.csv", b"station,count\na,1\n")
    shown = harvesters(home, allowed, "preview", uid)
    assert shown.returncode == 0, shown.stderr
    rows = [line.replace("│", " ").split() for line in shown.stdout.splitlines()]
    assert ["refresh", "north"] in [row[:2] for row in rows], shown.stdout
    assert ["create", "west"] in [row[:2] for row in rows], shown.stdout
    assert ["unpublish", "south"] not in [row[:2] for row in rows]  # not published: nothing to do
    assert published(home, allowed) == {"north": True, "south": False}  # nothing made by a preview
    busy = harvesters(home, allowed, "unpublish", uid)  # north's refresh, queued by the run above
    assert busy.returncode == 0 and "0 unpublished, 1 already unpublished, 1 busy." in busy.stdout, (
        busy.stdout
    )
    aborted = harvesters(home, allowed, "abort", uid)
    assert aborted.returncode == 0 and f"Abort requested for harvester {uid}." in aborted.stdout, (
        aborted.stderr
    )
    assert published(home, allowed) == {"north": True, "south": False}  # an aborted refresh: still served
    unpublished = harvesters(home, allowed, "unpublish", uid)
    assert unpublished.returncode == 0 and "1 unpublished, 1 already unpublished." in unpublished.stdout
    republished = harvesters(home, allowed, "publish", uid, "--wait")
    assert republished.returncode == 0, republished.stderr
    assert "1 published, 0 already published, 1 gone." in republished.stdout, republished.stdout
    assert published(home, allowed) == {"north": True, "south": False}
    scheduled = harvesters(home, allowed, "schedule", uid, "30 1 * * *", "--timezone", "Europe/Berlin")
    assert scheduled.returncode == 0 and "(Europe/Berlin: At 01:30" in scheduled.stdout, scheduled.stdout
    assert "no schedule now" in harvesters(home, allowed, "schedule", uid, "").stdout
    idle = harvesters(home, allowed, "abort", uid)
    assert idle.returncode == 1 and "harvester_not_running" in idle.stderr + idle.stdout, idle.stderr

    bad = harvesters(home, allowed, "create", s3_bucket.url("counts/north.csv"), "--name", "One")
    assert bad.returncode == 1 and "invalid_harvester" in bad.stderr + bad.stdout, bad.stderr
    assert "Traceback" not in bad.stderr

    gone = harvesters(home, allowed, "delete", uid, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert uid not in harvesters(home, allowed, "list").stdout
    assert published(home, allowed) == {"north": True, "south": False}  # the datasets stay


def test_through_a_server(tmp_path: Path, moto_server: MotoServer) -> None:
    """The same commands through ``--server``: the pass runs on the server, ``--wait`` follows it."""
    bucket = moto_server.create_bucket()
    for name in ("east", "west"):
        moto_server.put_object(bucket, f"feeds/{name}.csv", b"station;count\na;1\n")
    env = {"DATAWHARF_BOOTSTRAP_API_KEY": KEY, "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port}
    with datawharf_serve(tmp_path / "server", env) as (base_url, _process):

        def remote(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
            done = cli(tmp_path / "elsewhere", *args, server=base_url, stdin=stdin)
            assert done.stderr.startswith(f"datawharf: server {base_url}\n"), done.stderr
            return done

        created = remote(
            "connections", "create", "--url", f"{moto_server.endpoint_url}/{bucket}/",
            "--region", "us-east-1", "--access-key-id", "testing", "--secret-stdin", "--title", "moto",
            stdin="testing\n",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        co = re.search(r"Connection (co_[a-z0-9]+)", created.stdout).group(1)  # type: ignore[union-attr]
        made = remote(
            "harvesters", "create", "feeds/", "--name", "Feeds", "--connection", co,
            "--type", "csvfile", "-p", "separator=;", "--dataset-id", "feed-{stem}",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        uid = re.search(r"Created harvester (hv_\w+)\.", made.stdout).group(1)  # type: ignore[union-attr]
        ran = remote("harvesters", "run", uid, "--wait")
        assert ran.returncode == 0, ran.stderr
        assert "keys 2, created 2" in ran.stdout, ran.stdout
        listed = remote("harvesters", "list")
        assert uid in listed.stdout and "Feeds" in listed.stdout
        datasets = remote("datasets", "list").stdout
        assert "feed-east" in datasets and "feed-west" in datasets
        shown = remote("harvesters", "preview", uid)
        assert shown.returncode == 0 and shown.stdout.count("refresh") == 2, shown.stdout
        assert "2 unpublished" in remote("harvesters", "unpublish", uid).stdout
        assert "2 published" in remote("harvesters", "publish", uid).stdout
        scheduled = remote("harvesters", "schedule", uid, "0 3 * * *")
        assert scheduled.returncode == 0 and "'0 3 * * *' (UTC" in scheduled.stdout, scheduled.stdout
        moved = remote("harvesters", "schedule", uid, "0 4 * * *")
        assert "'0 4 * * *'" in moved.stdout, moved.stdout
        refused = remote("harvesters", "run", "hv_missing")
        assert refused.returncode == 1 and "error [harvester_not_found]" in refused.stderr, refused.stderr
        assert remote("harvesters", "delete", uid, "--yes").returncode == 0
        assert "feed-east" in remote("datasets", "list").stdout
