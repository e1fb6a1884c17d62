"""The reference's harvester routes beyond CRUD, over HTTP against the moto server: publish and unpublish
every dataset, preview (saved and unsaved), abort, schedules; and a pass whose process was killed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datawharf.harvest import control
from datawharf.harvest.harvest import run_harvest
from datawharf.jobs.runner import JobContext
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import Harvester
from datawharf.store.models.runs import Run
from tests.integration.test_datasets_publish import API, wait_status
from tests.integration.test_harvesters import (
    csv,
    harvested,
    make_harvester,
    records,
    start,
)
from tests.integration.test_several_processes import store_url
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_settings(
    request: pytest.FixtureRequest, tmp_path: Path, moto_server: MotoServer
) -> Iterator[Settings]:
    """test_harvesters.py's settings (its ``client`` fixture uses these), on SQLite and on PostgreSQL."""
    with store_url(request.param, tmp_path) as url:
        yield make_settings(
            tmp_path / "home", database_url=url, allowed_private_hosts=[moto_server.host_port]
        )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def database_of(app: TestClient) -> Database:
    return app.app.state.database  # type: ignore[attr-defined,no-any-return]


def counts(app: TestClient, uid: str) -> tuple[int, int]:
    shown = app.get(f"{API}/harvesters/{uid}/").json()
    return shown["attached_datasets_count"], shown["published_datasets_count"]


def pass_runs(app: TestClient, uid: str) -> list[str]:
    with database_of(app).session() as session:
        return list(
            session.scalars(
                select(Run.status)
                .where(Run.kind == control.HARVEST, Run.subject_uid == uid)
                .order_by(Run.uid)
            )
        )


def test_publish_and_unpublish_every_dataset_of_a_harvester(client: TestClient, s3_bucket: S3Bucket) -> None:
    for name, rows in (("north", 2), ("south", 3), ("east", 4)):
        s3_bucket.put(f"exports/{name}.csv", csv(rows))
    uid = make_harvester(client, s3_bucket)["uid"]
    start(client, uid)
    harvested(client)
    assert counts(client, uid) == (3, 3)

    unpublished = client.post(f"{API}/harvesters/{uid}/unpublish/")
    assert unpublished.status_code == 200, unpublished.text
    assert unpublished.json() == {"detail": "ok", "done": 3, "already": 0, "busy": 0, "gone": 0}
    assert counts(client, uid) == (3, 0)
    gone = client.get("/api/explore/v2.1/catalog/datasets/north/records")
    assert gone.status_code == 404
    again = client.post(f"{API}/harvesters/{uid}/unpublish/").json()
    assert (again["done"], again["already"]) == (0, 3)

    # An object removed: a pass marks it gone; publishing every dataset then leaves that one alone.
    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key="exports/east.csv")
    done = start(client, uid)
    assert (done["last_report"]["republished"], done["last_report"]["unpublished"]) == (2, 0), done
    harvested(client)
    client.post(f"{API}/harvesters/{uid}/unpublish/")
    published = client.post(f"{API}/harvesters/{uid}/publish/")
    assert published.status_code == 200, published.text
    assert published.json() == {"detail": "ok", "done": 2, "already": 0, "busy": 0, "gone": 1}
    datasets = harvested(client)
    assert {d: v["is_published"] for d, v in datasets.items()} == {
        "north": True,
        "south": True,
        "east": False,
    }
    assert (records(client, "north"), records(client, "south")) == (2, 3)
    assert client.post(f"{API}/harvesters/{uid}/publish/").json()["already"] == 2
    assert client.post(f"{API}/harvesters/hv_nothing/publish/").json()["error_code"] == "harvester_not_found"


def test_preview_shows_what_a_pass_would_do_and_does_nothing(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("exports/2026/12/stations.csv", csv(2))
    s3_bucket.put("exports/counters_north.csv", csv(2))
    s3_bucket.put("exports/gone.csv", csv(2))
    uid = make_harvester(client, s3_bucket, title_template="Daily {stem}")["uid"]

    first = client.get(f"{API}/harvesters/{uid}/preview/")
    assert first.status_code == 200, first.text
    shown = first.json()
    assert (shown["total_count"], shown["complete"]) == (3, True)
    assert [(r["id"], r["title"], r["action"]) for r in shown["results"]] == [
        ("2026-12-stations", "Daily stations", "create"),
        ("counters-north", "Daily counters north", "create"),
        ("gone", "Daily gone", "create"),
    ]
    assert shown["results"][0]["url"] == s3_bucket.url("exports/2026/12/stations.csv")
    assert client.get(f"{API}/datasets/").json()["total_count"] == 0  # nothing made

    start(client, uid)
    harvested(client)
    s3_bucket.server.boto3_client().delete_object(Bucket=s3_bucket.name, Key="exports/gone.csv")
    s3_bucket.put("exports/fresh.csv", csv(1))
    client.post(f"{API}/datasets/{harvested(client)['counters-north']['uid']}/unpublish/")
    actions = {
        r["source_key"]: r["action"] for r in client.get(f"{API}/harvesters/{uid}/preview/").json()["results"]
    }
    assert actions == {
        "exports/2026/12/stations.csv": "refresh",
        "exports/counters_north.csv": "republish",
        "exports/fresh.csv": "create",
        "exports/gone.csv": "unpublish",
    }

    # Unsaved: the body over the saved harvester, shown, never saved.
    unsaved = client.post(
        f"{API}/harvesters/{uid}/unsaved_preview/",
        json={"title_template": "{path}", "url": s3_bucket.url("exports/2026/")},
    )
    assert unsaved.status_code == 200, unsaved.text
    assert [(r["title"], r["action"]) for r in unsaved.json()["results"]] == [
        ("12 / stations", "refresh"),
        ("Daily gone", "unpublish"),  # published, and a key the new URL no longer names
    ]
    assert client.get(f"{API}/harvesters/{uid}/").json()["title_template"] == "Daily {stem}"
    refused = client.post(f"{API}/harvesters/{uid}/unsaved_preview/", json={"title_template": "{nope}"})
    assert refused.status_code == 400 and refused.json()["error_code"] == "invalid_harvester"
    assert client.get(f"{API}/datasets/").json()["total_count"] == 3  # still the pass's three


def test_the_preview_of_a_long_listing_shows_its_first_page(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.server.boto3_client()
    for number in range(1005):
        s3.put_object(Bucket=s3_bucket.name, Key=f"exports/part-{number:04d}.csv", Body=b"a\n1\n")
    uid = make_harvester(client, s3_bucket)["uid"]
    since = s3_bucket.server.log_path.stat().st_size
    shown = client.get(f"{API}/harvesters/{uid}/preview/").json()
    assert (shown["total_count"], shown["complete"], len(shown["results"])) == (1000, False, 1000)
    assert shown["results"][-1]["id"] == "part-0999"
    served = s3_bucket.server.log_path.read_bytes()[since:].decode(errors="replace")
    bucket = re.escape(s3_bucket.name)
    assert len(re.findall(rf"GET /{bucket}/?\?[^ ]*list-type=2", served)) == 1  # one listing page
    assert re.findall(rf"GET /{bucket}/[^ ?]+ HTTP", served) == []  # no object read


def test_abort_stops_a_queued_pass_and_the_publishes_of_the_datasets(
    client: TestClient,
    s3_bucket: S3Bucket,
    app_settings: Settings,
) -> None:
    for name in ("north", "south"):
        s3_bucket.put(f"exports/{name}.csv", csv(2))
    uid = make_harvester(client, s3_bucket)["uid"]
    nothing = client.post(f"{API}/harvesters/{uid}/abort/")
    assert nothing.status_code == 409 and nothing.json()["error_code"] == "harvester_not_running"

    # A pass queued (as "start" leaves it before a worker takes it): aborted at once, never runs.
    database = database_of(client)
    with database.session() as session:
        run_uid = control.request_pass(session, uid)
    assert client.get(f"{API}/harvesters/{uid}/").json()["status"] == "queued"
    aborted = client.post(f"{API}/harvesters/{uid}/abort/")
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["status"] == "idle"
    assert run_harvest(database, app_settings, uid, run_uid=run_uid) is None  # a worker's claim: nothing
    assert client.get(f"{API}/datasets/").json()["total_count"] == 0
    assert pass_runs(client, uid) == ["aborted"]

    # The pass made, its publishes queued and not yet taken by a worker: abort stops them.
    report = run_harvest(database, app_settings, uid)
    assert report is not None and report["created"] == 2
    uids = [d["uid"] for d in client.get(f"{API}/datasets/").json()["results"]]
    assert {client.get(f"{API}/datasets/{d}/status/").json()["status"] for d in uids} == {"queued"}
    aborted = client.post(f"{API}/harvesters/{uid}/abort/")
    assert aborted.status_code == 200, aborted.text
    after = [wait_status(client, d) for d in uids]
    assert [(s["status"], s["is_published"]) for s in after] == [("idle", False), ("idle", False)]
    assert client.post(f"{API}/harvesters/{uid}/abort/").status_code == 409


def test_a_pass_aborted_mid_way_saves_nothing(
    client: TestClient,
    s3_bucket: S3Bucket,
    app_settings: Settings,
) -> None:
    s3_bucket.put("exports/one.csv", csv(1))
    uid = make_harvester(client, s3_bucket)["uid"]
    context = JobContext("harvest:test")
    context.cancelled.set()  # the signal "abort" sends this process's worker, seen at the first check
    report = run_harvest(database_of(client), app_settings, uid, context=context)
    assert report is not None and report["aborted"] is True
    shown = client.get(f"{API}/harvesters/{uid}/").json()
    assert (shown["status"], shown["has_error"], shown["last_report"]["aborted"]) == ("idle", False, True)
    assert client.get(f"{API}/datasets/").json()["total_count"] == 0
    assert pass_runs(client, uid) == ["aborted"]


class CancelledAtKey(JobContext):
    """The abort signal arriving while the pass saves its keys: at the third key's check."""

    def __init__(self) -> None:
        super().__init__("harvest:test")
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        if self.checks == 1 + 3:  # one check a listing page, then one a key
            self.cancelled.set()
        super().check()


def test_a_pass_aborted_while_saving_its_keys_saves_none_of_them(
    client: TestClient,
    s3_bucket: S3Bucket,
    app_settings: Settings,
) -> None:
    for number in range(5):
        s3_bucket.put(f"exports/part-{number}.csv", csv(1))
    uid = make_harvester(client, s3_bucket)["uid"]
    context = CancelledAtKey()
    report = run_harvest(database_of(client), app_settings, uid, context=context)
    assert report is not None and report["aborted"] is True and context.checks == 4
    assert client.get(f"{API}/datasets/").json()["total_count"] == 0  # the two made before: rolled back
    assert client.get(f"{API}/harvesters/{uid}/").json()["attached_datasets_count"] == 0
    assert run_harvest(database_of(client), app_settings, uid)["created"] == 5  # type: ignore[index]


def test_schedules_are_the_harvesters_one_schedule(client: TestClient, s3_bucket: S3Bucket) -> None:
    uid = make_harvester(client, s3_bucket)["uid"]
    base = f"{API}/harvesters/{uid}/schedules/"
    assert client.get(base).json()["total_count"] == 0
    made = client.post(base, json={"cron_schedule": "30 1 * * *", "timezone": "Europe/Berlin"})
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert (schedule["cron_schedule"], schedule["timezone"]) == ("30 1 * * *", "Europe/Berlin")
    # 01:30 in Berlin is 00:30 UTC in winter (CET, UTC+1).
    assert schedule["next_run_at"][11:16] == "00:30", schedule
    shown = client.get(f"{API}/harvesters/{uid}/").json()
    assert (shown["cron_schedule"], shown["schedule_timezone"]) == ("30 1 * * *", "Europe/Berlin")
    listed = client.get(base).json()
    assert listed["total_count"] == 1 and listed["results"][0]["uid"] == schedule["uid"]

    second = client.post(base, json={"cron_schedule": "0 * * * *"})
    assert second.status_code == 409 and second.json()["error_code"] == "harvester_schedule_exists"
    bad_zone = client.put(
        f"{base}{schedule['uid']}/", json={"cron_schedule": "0 * * * *", "timezone": "Mars/Base"}
    )
    assert bad_zone.status_code == 400 and bad_zone.json()["error_code"] == "invalid_timezone"
    bad_cron = client.put(f"{base}{schedule['uid']}/", json={"cron_schedule": "every day"})
    assert bad_cron.json()["error_code"] == "invalid_cron_schedule"

    updated = client.put(f"{base}{schedule['uid']}/", json={"uid": "ignored", "cron_schedule": "0 * * * *"})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["uid"], updated.json()["timezone"]) == (schedule["uid"], "UTC")
    assert client.get(f"{base}{schedule['uid']}/").json()["cron_schedule"] == "0 * * * *"
    assert client.get(f"{base}sc_nothing/").json()["error_code"] == "schedule_not_found"
    assert client.delete(f"{base}{schedule['uid']}/").status_code == 204
    assert client.get(base).json()["total_count"] == 0
    shown = client.get(f"{API}/harvesters/{uid}/").json()
    assert (shown["cron_schedule"], shown["next_run_at"]) == (None, None)
    assert client.get(f"{base}{schedule['uid']}/").status_code == 404


PASS_IN_A_CHILD = """
import json, sys, time
import datawharf.harvest.harvest as harvest
from datawharf.settings import Settings
from datawharf.store.db import Database

def hang(*args, **kwargs):
    print("listing", flush=True)
    time.sleep(3600)

def endless_pages(*args, **kwargs):
    print("listing", flush=True)
    while True:
        time.sleep(0.1)
        yield [], 1000

# The pass claimed and beating, then stuck in its listing until killed ("hang"), or listing page after
# empty page until it sees an abort ("pages").
if sys.argv[3] == "hang":
    harvest._list_keys = hang
else:
    harvest.list_pages = endless_pages
settings = Settings(**json.loads(sys.argv[1]))
print(harvest.run_harvest(Database(settings), settings, sys.argv[2]), flush=True)
"""


def pass_in_a_child(settings: Settings, s3_bucket: S3Bucket, uid: str, mode: str) -> subprocess.Popen[str]:
    """A pass in another process, once it has begun listing."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    given = {
        "home": str(settings.home),
        "database_url": settings.database_url,
        "allowed_private_hosts": [s3_bucket.server.host_port],
        **({"secret_key": settings.secret_key.get_secret_value()} if settings.secret_key else {}),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", PASS_IN_A_CHILD, json.dumps(given), uid, mode],
        cwd=REPOSITORY,
        env={**clean, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "listing"
    return child


def test_abort_reaches_a_pass_in_another_process(
    client: TestClient,
    s3_bucket: S3Bucket,
    app_settings: Settings,
) -> None:
    s3_bucket.put("exports/one.csv", csv(1))
    uid = make_harvester(client, s3_bucket)["uid"]
    child = pass_in_a_child(app_settings, s3_bucket, uid, "pages")
    try:
        assert client.get(f"{API}/harvesters/{uid}/").json()["status"] == "processing"
        aborted = client.post(f"{API}/harvesters/{uid}/abort/")
        assert aborted.status_code == 200, aborted.text
        assert aborted.json()["status"] == "aborting"
        assert child.wait(timeout=30) == 0  # it saw the abort at a heartbeat, and stopped
        assert child.stdout is not None and "'aborted': True" in child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None
        child.stdout.close()
    shown = client.get(f"{API}/harvesters/{uid}/").json()
    assert (shown["status"], shown["has_error"], shown["last_report"]["aborted"]) == ("idle", False, True)
    assert pass_runs(client, uid) == ["aborted"]
    assert client.get(f"{API}/datasets/").json()["total_count"] == 0


def test_a_pass_killed_with_its_process_is_recovered(
    client: TestClient,
    s3_bucket: S3Bucket,
    app_settings: Settings,
) -> None:
    s3_bucket.put("exports/one.csv", csv(1))
    uid = make_harvester(client, s3_bucket)["uid"]
    child = pass_in_a_child(app_settings, s3_bucket, uid, "hang")
    try:
        assert client.get(f"{API}/harvesters/{uid}/").json()["status"] == "processing"
        runtime = client.app.state.datasets_runtime  # type: ignore[attr-defined]
        runtime.tick()  # its worker is alive: nothing to recover
        assert client.get(f"{API}/harvesters/{uid}/").json()["status"] == "processing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    runtime.tick()  # the scheduler's pass (and a server's start) finds the dead worker
    shown = client.get(f"{API}/harvesters/{uid}/").json()
    assert (shown["status"], shown["has_error"]) == ("idle", True)
    message = client.get(f"{API}/harvesters/{uid}/errors/").json()["harvester"]
    assert "interrupted" in message and "next schedule" in message
    assert pass_runs(client, uid) == ["failed"]
    done = start(client, uid)  # and it runs again
    assert done["last_report"]["created"] == 1
    with database_of(client).session() as session:
        assert session.scalar(select(func.count()).select_from(Dataset)) == 1
        assert session.scalar(select(Harvester.harvester_error)) is None
