"""Issue 18, item 4: with the distributed job backend, the objects of one publish are spread over workers.

One ``datawharf serve`` and two ``datawharf worker`` processes on a fresh PostgreSQL database, the
warehouse on a bucket of the suite's moto_server (``tests/support/cluster.py``); the source is a glob
over 300 small gzip CSVs in nested prefixes, spread 50 objects per part run. What is asserted comes from
the runs table (which worker ran each part, its attempt) and from the Explore API of the replica.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_datasets_globs import PARAMS, RECORDS_EACH, station_csv, station_key
from tests.support.cluster import API, Cluster, cluster
from tests.support.moto import MotoServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OBJECTS = 300
SPLIT = 50
EXPLORE = "/api/explore/v2.1"


@pytest.fixture
def wharf(tmp_path: Path, moto_server: MotoServer) -> Iterator[Cluster]:
    # One object read at a time per run: each part lasts about a second, long enough to land a kill.
    extra = {"DATAWHARF_SET_SPLIT_OBJECTS": str(SPLIT), "DATAWHARF_SET_READ_THREADS": "1"}
    with cluster(tmp_path, moto_server, replicas=1, workers=2, extra_env=extra) as made:
        yield made


def glob_dataset(wharf: Cluster, client: httpx.Client) -> tuple[str, dict[str, bytes]]:
    bucket = wharf.moto.create_bucket()
    objects = {station_key(n): station_csv(n) for n in range(OBJECTS)}
    s3 = wharf.moto.boto3_client()
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    source = f"{wharf.moto.endpoint_url}/{bucket}/exports/**/stations-*.csv.gz"
    uid = wharf.create_dataset(client, "Stations", source, params=PARAMS)
    return uid, objects


def records_by_file(client: httpx.Client, uid: str) -> dict[str, int]:
    """What the replica's Explore API serves: records per object key (``extract_filename``)."""
    dataset_id = client.get(f"{API}/datasets/{uid}/").json()["dataset_id"]
    answer = client.get(
        f"{EXPLORE}/catalog/datasets/{dataset_id}/exports/json",
        params={"select": "filename, count(*) as n", "group_by": "filename"},
    )
    assert answer.status_code == 200, answer.text
    return {row["filename"]: int(row["n"]) for row in answer.json()}


def test_one_publish_is_read_by_both_workers(wharf: Cluster) -> None:
    client = wharf.client()
    uid, objects = glob_dataset(wharf, client)
    wharf.start_publish(client, uid)
    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle", status
    parts = wharf.parts_of(uid)
    assert len(parts) == math.ceil((OBJECTS - 1) / SPLIT)
    assert {p["status"] for p in parts} == {"done"}
    workers = {p["worker"] for p in parts}
    assert len(workers) == 2, f"every part ran on one worker: {workers}\n{wharf.logs()}"
    assert {w.split(":")[-1] for w in workers} == {str(w.pid) for w in wharf.workers}
    assert records_by_file(client, uid) == {key: RECORDS_EACH for key in objects}
    assert len(wharf.versions(uid)) == 1


def test_a_worker_killed_mid_part_has_its_part_retried_on_the_other(wharf: Cluster) -> None:
    client = wharf.client()
    uid, objects = glob_dataset(wharf, client)
    wharf.start_publish(client, uid)

    def part_on_the_other_worker() -> dict[str, Any] | None:
        run = wharf.run_of(uid)
        if run is None or run["status"] != "running":
            return None
        for part in wharf.parts_of(uid):
            if part["status"] == "running" and part["worker"] != run["worker"]:
                return part
        return None

    part = wharf.wait(
        part_on_the_other_worker, "a part running on the worker without the coordinator", 90, 0.02
    )
    victim = wharf.worker_by_name(part["worker"])
    assert victim is not None
    victim.signal(signal.SIGKILL)
    status = wharf.wait_settled(client, uid)
    assert status["status"] == "idle", status
    retried = next(p for p in wharf.parts_of(uid) if p["uid"] == part["uid"])
    assert retried["status"] == "done" and retried["attempt"] == 2, retried
    assert retried["worker"] != part["worker"]
    assert records_by_file(client, uid) == {key: RECORDS_EACH for key in objects}
    assert len(wharf.versions(uid)) == 1


def test_an_abort_stops_the_publish_and_its_parts_and_the_previous_version_stays_served(
    wharf: Cluster,
) -> None:
    client = wharf.client()
    uid, objects = glob_dataset(wharf, client)
    wharf.start_publish(client, uid)
    assert wharf.wait_settled(client, uid)["status"] == "idle"
    served = records_by_file(client, uid)
    wharf.start_publish(client, uid)

    def parts_running() -> bool:
        run = wharf.run_of(uid)
        fresh = [p for p in wharf.parts_of(uid) if run is not None and p["parent_uid"] == run["uid"]]
        return run is not None and run["attempt"] >= 1 and any(p["status"] == "running" for p in fresh)

    wharf.wait(parts_running, "the second publish's parts running", 90, 0.02)
    run = wharf.run_of(uid)
    assert run is not None
    answer = client.post(f"{API}/datasets/{uid}/abort/")
    assert answer.status_code == 200, answer.text
    status = wharf.wait_settled(client, uid, timeout=30)
    assert status["status"] == "idle" and "aborted" in status["message"].lower(), status

    def parts_ended() -> list[dict[str, Any]] | None:
        mine = [p for p in wharf.parts_of(uid) if p["parent_uid"] == run["uid"]]
        return mine if all(p["status"] in ("done", "aborted", "failed") for p in mine) else None

    mine = wharf.wait(parts_ended, "every part of the aborted publish ended", 30)
    assert any(p["status"] == "aborted" for p in mine), mine
    assert records_by_file(client, uid) == served == {key: RECORDS_EACH for key in objects}
    assert len(wharf.versions(uid)) == 1
