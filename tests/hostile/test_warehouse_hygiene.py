"""Warehouse hygiene (issue 12, item 10), replayed against a real ``datawharf serve``.

- a kill between a version folder's rename and its DB commit (and every other orphan a kill leaves) is
  removed at the next start, and a real ``kill -9`` mid-publish leaves only what the DB references;
- a frozen S3 server fails the run as ``s3_read_timeout`` within the read timeout, while the run's
  heartbeat keeps ticking (it is not taken for a dead worker) and its staging folder is left alone;
- old versions go by the retention setting and by DELETE / ``datasets delete-version``, never the
  current one, never files a restored version shares; ``warehouse_full`` says how to free space.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from datawharf.store.warehouse import STAGING_PREFIX, folder_size
from tests.hostile.conftest import serve_hostile
from tests.support.hostile import API, EXPLORE, HostileServer, attack, error_code
from tests.support.moto import MotoServer, S3Bucket
from tests.support.stub_s3 import FreezingObject, host_port, serve_stub

MiB = 1024 * 1024


def csv_rows(rows: int, tag: str = "a") -> bytes:
    return ("id;name\n" + "".join(f"{i};{tag}-{i:08d}\n" for i in range(rows))).encode()


def noisy_rows(rows: int) -> bytes:
    """Incompressible values: every version of it has about the same, known, size on disk."""
    return ("id;blob\n" + "".join(f"{i};{os.urandom(24).hex()}\n" for i in range(rows))).encode()


def create_dataset(client: httpx.Client, url: str, connection: dict[str, str] | None) -> dict[str, Any]:
    dataset = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": url}}}})
    assert dataset.status_code == 201, dataset.text
    resource = client.post(
        f"{API}/datasets/{dataset.json()['uid']}/resources/",
        json={
            "type": "csvfile",
            "title": "data",
            "params": {"separator": ";", "encoding": "utf-8", "headers_first_row": True},
            "datasource": {"type": "amazon_s3", "url": url, "connection": connection},
        },
    )
    assert resource.status_code == 201, resource.text
    return dataset.json()


def moto_dataset(client: httpx.Client, bucket: S3Bucket, key: str) -> dict[str, Any]:
    connection = client.post(
        f"{API}/datasource_connections/",
        json={
            "type": "amazon_s3",
            "title": f"moto {key}",
            "url": bucket.server.endpoint_url,
            "auth": {
                "type": "aws_signature_v4",
                "access_key_id": "AKIAHYGIENE",
                "secret_access_key": "hygiene-secret",
                "region": "us-east-1",
            },
        },
    )
    assert connection.status_code == 201, connection.text
    return create_dataset(client, bucket.url(key), {"uid": connection.json()["uid"]})


def status_of(client: httpx.Client, uid: str) -> dict[str, Any]:
    response = client.get(f"{API}/datasets/{uid}/status/")
    assert response.status_code == 200, response.text
    return response.json()


def wait_done(client: httpx.Client, uid: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = status_of(client, uid)
        if status["status"] in ("idle", "error"):
            return status
        assert time.monotonic() < deadline, f"publish still {status['status']} after {timeout}s"
        time.sleep(0.05)


def publish(client: httpx.Client, uid: str) -> dict[str, Any]:
    response = client.post(f"{API}/datasets/{uid}/publish/")
    assert response.status_code == 200, response.text
    return wait_done(client, uid)


def published(client: httpx.Client, uid: str) -> str:
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    return str(status["version_uid"])


def version_uids(client: httpx.Client, uid: str) -> list[str]:
    response = client.get(f"{API}/datasets/{uid}/versions/")
    assert response.status_code == 200, response.text
    return [v["uid"] for v in response.json()["results"]]


def record_count(client: httpx.Client, dataset_id: str) -> int:
    response = client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records", params={"limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["total_count"])


def warehouse_listing(home: Path) -> dict[str, list[str]]:
    root = home / "warehouse"
    return {d.name: sorted(c.name for c in d.iterdir()) for d in sorted(root.iterdir()) if d.is_dir()}


def listing_becomes(home: Path, expected: dict[str, list[str]], timeout: float = 5.0) -> dict[str, list[str]]:
    """The warehouse listing once it is ``expected``: old versions' files go right after the commit that
    deleted their rows, a moment after the status says the publish is done."""
    deadline = time.monotonic() + timeout
    while (listing := warehouse_listing(home)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return listing


def db_referenced(home: Path) -> dict[str, list[str]]:
    """What the server's SQLite database references: dataset uid -> data folders of its versions."""
    with contextlib.closing(sqlite3.connect(f"file:{home / 'datawharf.db'}?mode=ro", uri=True)) as db:
        referenced: dict[str, set[str]] = {uid: set() for (uid,) in db.execute("SELECT uid FROM datasets")}
        for dataset_uid, data_uid in db.execute("SELECT dataset_uid, data_uid FROM dataset_versions"):
            referenced[dataset_uid].add(data_uid)
    return {uid: sorted(data) for uid, data in sorted(referenced.items()) if data}


def heartbeat_at(home: Path, uid: str) -> tuple[str, str]:
    with contextlib.closing(sqlite3.connect(f"file:{home / 'datawharf.db'}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT status, heartbeat_at FROM datasets WHERE uid = ?", (uid,)).fetchone()
    return str(row[0]), str(row[1])


def log_of(home: Path) -> str:
    return (home / "serve.log").read_text()


def write_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        for _ in range(size // MiB):
            handle.write(block)


@contextlib.contextmanager
def served(home: Path, moto_server: MotoServer, **env: str) -> Iterator[tuple[HostileServer, httpx.Client]]:
    with serve_hostile(home, moto_server, env) as server, server.client() as client:
        yield server, client


# --- orphans ---------------------------------------------------------------------------------------


def test_orphans_a_kill_leaves_are_removed_at_start(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    home = tmp_path / "home"
    s3_bucket.put("orphans.csv", csv_rows(1000))
    with served(home, moto_server) as (_server, client):
        dataset = moto_dataset(client, s3_bucket, "orphans.csv")
        uid = dataset["uid"]
        version = published(client, uid)
    root = home / "warehouse"
    # A kill between the rename and the commit: a whole version folder (48 MiB) the DB never recorded.
    write_file(root / uid / "ch_renamedbutnotcommitted" / "part-00000.parquet", 48 * MiB)
    write_file(root / uid / f"{STAGING_PREFIX}ch_deadrun" / "part-00000.parquet", 2 * MiB)  # a dead run
    write_file(root / "da_deletedbutnotremoved" / "ch_old" / "part-00000.parquet", 1 * MiB)  # a deletion
    kept = folder_size(root / uid / version)
    orphan_bytes = folder_size(root) - kept
    assert orphan_bytes == 51 * MiB
    with served(home, moto_server, DATAWHARF_WAREHOUSE_SWEEP_INTERVAL="0.5") as (server, client):
        with attack(server, "warehouse orphans removed at start", max_seconds=30) as record:
            assert record_count(client, dataset["dataset_id"]) == 1000
            record.notes.update(orphan_bytes_before=orphan_bytes, orphan_bytes_after=folder_size(root) - kept)
        assert warehouse_listing(home) == {uid: [version]} == db_referenced(home)
        # What a CLI publish killed while the server runs leaves: the periodic pass removes it.
        late = root / uid / f"{STAGING_PREFIX}ch_clikilled"
        write_file(late / "part-00000.parquet", 1 * MiB)
        with attack(server, "warehouse orphan removed by the periodic pass", max_seconds=10) as record:
            while late.exists():
                time.sleep(0.05)
            record.notes["sweeps"] = re.findall(r"removed \d+ warehouse folder\S+ \(.*?\)", log_of(home))
    assert warehouse_listing(home) == {uid: [version]}
    log = log_of(home)
    assert "removed 3 warehouse folder(s) (53477376 bytes" in log
    assert "removed 1 warehouse folder(s) (1048576 bytes" in log


def test_kill_9_mid_publish_then_restart_serves_the_previous_version(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    home = tmp_path / "home"
    s3_bucket.put("killed.csv", csv_rows(100))
    with served(home, moto_server) as (server, client):
        dataset = moto_dataset(client, s3_bucket, "killed.csv")
        uid = dataset["uid"]
        first = published(client, uid)
        s3_bucket.put("killed.csv", csv_rows(2_500_000, "b"))  # ~50 MB: seconds of work
        assert client.post(f"{API}/datasets/{uid}/publish/").status_code == 200
        staging = home / "warehouse" / uid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for p in staging.glob(f"{STAGING_PREFIX}*/*.parquet") if p.stat().st_size > MiB]
            if partial:
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"no staging file appeared; status {status_of(client, uid)}")
        server.process.kill()  # SIGKILL: no cleanup runs
        server.process.wait(timeout=10)
    left = warehouse_listing(home)
    assert left[uid] != [first], "the kill left nothing behind: the test did not hit the run"
    kept = folder_size(home / "warehouse" / uid / first)
    orphan_bytes = folder_size(home / "warehouse") - kept
    with (
        served(home, moto_server) as (server, client),
        attack(server, "kill -9 mid-publish, restart", max_seconds=30) as record,
    ):
        status = status_of(client, uid)
        count = record_count(client, dataset["dataset_id"])
        record.notes.update(
            left_by_kill=left[uid],
            orphan_bytes_before=orphan_bytes,
            orphan_bytes_after=folder_size(home / "warehouse") - kept,
            status=status["status"],
        )
    assert (status["status"], status["version_uid"], count) == ("error", first, 100), status["message"]
    assert "interrupted" in status["message"]
    assert warehouse_listing(home) == {uid: [first]} == db_referenced(home)


# --- a frozen S3 server --------------------------------------------------------------------------------


def test_frozen_s3_fails_as_read_timeout_while_the_heartbeat_ticks(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    handler = FreezingObject.made(csv_rows(20_000))
    home = tmp_path / "home"
    with serve_stub(handler) as stub:
        env = {
            "DATAWHARF_ALLOWED_PRIVATE_HOSTS": f"{moto_server.host_port},{host_port(stub)}",
            "DATAWHARF_S3_READ_TIMEOUT": "3",
            "DATAWHARF_WAREHOUSE_SWEEP_INTERVAL": "0.2",
        }
        try:
            with served(home, moto_server, **env) as (server, client):
                dataset = create_dataset(client, f"http://{host_port(stub)}/bucket/frozen.csv", None)
                uid = dataset["uid"]
                first = published(client, uid)
                handler.freeze.set()
                beats: set[str] = set()
                staging_seen: list[bool] = []
                with attack(server, "frozen S3 mid-body", max_seconds=15) as record:
                    assert client.post(f"{API}/datasets/{uid}/publish/").status_code == 200
                    while (status := status_of(client, uid))["status"] not in ("idle", "error"):
                        state, beat = heartbeat_at(home, uid)
                        if state == "processing" and handler.frozen_gets:
                            beats.add(beat)
                            staging_seen.append(any((home / "warehouse" / uid).glob(f"{STAGING_PREFIX}*")))
                        time.sleep(0.2)
                    record.notes.update(
                        status=status["status"],
                        message=status["message"][:160],
                        heartbeats_during_stall=len(beats),
                    )
        finally:
            handler.release.set()
    assert status["status"] == "error"
    assert status["message"].startswith("Publish failed [s3_read_timeout]"), status["message"]
    assert "DATAWHARF_S3_READ_TIMEOUT" in status["message"] and "3 s" in status["message"]
    assert "process running it stopped" not in status["message"]
    assert 3 <= record.seconds <= 15
    assert len(beats) >= 4, beats  # 0.5 s beats during a 3 s stall
    assert staging_seen and all(staging_seen)  # the periodic sweep left the live run's folder alone
    assert status["version_uid"] == first
    assert warehouse_listing(home) == {uid: [first]}


# --- retention and deletion ------------------------------------------------------------------------------


def test_retention_keeps_the_newest_and_files_a_restore_shares(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    home = tmp_path / "home"
    s3_bucket.put("kept.csv", csv_rows(50))
    with served(home, moto_server, DATAWHARF_VERSIONS_KEEP="2") as (server, client):
        uid = moto_dataset(client, s3_bucket, "kept.csv")["uid"]
        with attack(server, "versions retention (keep 2) and delete", max_seconds=60) as record:
            v1, v2, v3 = (published(client, uid) for _ in range(3))
            assert version_uids(client, uid) == [v3, v2]
            assert listing_becomes(home, {uid: sorted([v2, v3])}) == {uid: sorted([v2, v3])}
            restored = client.post(f"{API}/datasets/{uid}/versions/{v2}/restore/")
            assert restored.status_code == 200, restored.text
            r2 = status_of(client, uid)["version_uid"]
            v4 = published(client, uid)
            # v3 and v2 are gone as versions; v2's files stay: the restored version r2 uses them.
            assert version_uids(client, uid) == [v4, r2]
            assert listing_becomes(home, {uid: sorted([v2, v4])}) == {uid: sorted([v2, v4])}
            current = client.delete(f"{API}/datasets/{uid}/versions/{v4}/")
            unknown = client.delete(f"{API}/datasets/{uid}/versions/ch_nosuchversion/")
            deleted = client.delete(f"{API}/datasets/{uid}/versions/{r2}/")
            record.notes.update(current=current.status_code, deleted=deleted.status_code)
    assert (current.status_code, error_code(current)) == (409, "version_is_current")
    assert "Publish or restore another version first" in current.json()["message"]
    assert (unknown.status_code, error_code(unknown)) == (404, "version_not_found")
    assert deleted.status_code == 204
    assert warehouse_listing(home) == {uid: [v4]} == db_referenced(home)
    assert v1 not in str(warehouse_listing(home))


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    env.update({"DATAWHARF_HOME": str(home), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "datawharf", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_deletes_an_old_version_not_the_current_one(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    home = tmp_path / "home"
    s3_bucket.put("cli.csv", csv_rows(50))
    with served(home, moto_server) as (server, client):
        dataset = moto_dataset(client, s3_bucket, "cli.csv")
        uid = dataset["uid"]
        old, current = published(client, uid), published(client, uid)
        with attack(server, "CLI datasets delete-version", max_seconds=120) as record:
            refused = _cli(home, "datasets", "delete-version", dataset["dataset_id"], current, "--yes")
            done = _cli(home, "datasets", "delete-version", dataset["dataset_id"], old, "--yes")
            gone = client.get(f"{API}/datasets/{uid}/versions/{old}/")
            record.notes.update(refused=refused.returncode, done=done.returncode)
    assert refused.returncode == 1 and "version_is_current" in refused.stderr, refused.stderr
    assert done.returncode == 0, done.stderr
    assert f"Deleted version {old}" in done.stdout
    assert (gone.status_code, error_code(gone)) == (404, "version_not_found")
    assert warehouse_listing(home) == {uid: [current]} == db_referenced(home)


def test_warehouse_full_names_the_ways_out_and_one_works(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    home = tmp_path / "home"
    s3_bucket.put("full.csv", noisy_rows(20_000))
    with served(home, moto_server) as (_server, client):
        uid = moto_dataset(client, s3_bucket, "full.csv")["uid"]
        v1 = published(client, uid)
    size = folder_size(home / "warehouse")
    # Room for two versions of it, not three.
    cap = str(int(size * 2.5))
    with (
        served(home, moto_server, DATAWHARF_WAREHOUSE_MAX_BYTES=cap) as (server, client),
        attack(server, "warehouse full, delete an old version, publish", max_seconds=60) as record,
    ):
        v2 = published(client, uid)
        full = publish(client, uid)
        deleted = client.delete(f"{API}/datasets/{uid}/versions/{v1}/")
        v3 = published(client, uid)
        record.notes.update(full=full["message"][:120], deleted=deleted.status_code)
    assert full["status"] == "error" and full["version_uid"] == v2
    message = full["message"]
    assert message.startswith("Publish failed [warehouse_full]"), message
    for way_out in (
        "datawharf datasets delete-version DATASET VERSION",
        "DELETE /api/automation/v1.0/datasets/{uid}/versions/{version_uid}/",
        "DATAWHARF_VERSIONS_KEEP",
        "DATAWHARF_WAREHOUSE_MAX_BYTES",
    ):
        assert way_out in message
    assert deleted.status_code == 204
    assert warehouse_listing(home) == {uid: sorted([v2, v3])} == db_referenced(home)
