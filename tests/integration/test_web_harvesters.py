"""Backoffice > Harvesters through the real app (HTTP, no browser): the form, refusals, "Run now", the
preview page, "Publish all", "Unpublish all" and "Abort"."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datawharf.harvest import control as harvest_control
from tests.integration.test_datasets_publish import API, create_connection, wait_status
from tests.integration.test_web_connections import csrf_of
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

PAGE = "/backoffice/harvesters/"


@pytest.fixture
def signed_in(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allowed_private_hosts=[moto_server.host_port], s3_max_attempts=1)
    with make_app_client(settings) as client:
        token = csrf_of(client.get("/backoffice/sign-in").text)
        client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
        yield client


def test_create_a_harvester_from_the_form_and_run_it(signed_in: TestClient, s3_bucket: S3Bucket) -> None:
    for name in ("north", "south"):
        s3_bucket.put(f"daily/{name}.csv", b"station,count\na,1\nb,2\n")
    connection = create_connection(signed_in, s3_bucket.server)
    page = signed_in.get(PAGE)
    assert page.status_code == 200 and "No harvester yet." in page.text
    assert connection in page.text  # offered in the connection list
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "Daily counts",
        "url": s3_bucket.url("daily/north.csv"),  # one object: refused, shown again with what was typed
        "connection": connection,
        "mode": "object",
        "extractor_type": "csvfile",
        "dataset_id_template": "daily-{stem}",
        "title_template": "Daily {stem}",
    }
    refused = signed_in.post(f"{PAGE}new", data=form)
    assert refused.status_code == 400
    assert "names one object: a harvester needs a prefix" in refused.text
    assert 'value="daily-{stem}"' in refused.text

    without_csrf = signed_in.post(f"{PAGE}new", data={**form, "csrf_token": "forged"})
    assert without_csrf.status_code == 403

    made = signed_in.post(f"{PAGE}new", data={**form, "url": s3_bucket.url("daily/")}, follow_redirects=False)
    assert made.status_code == 303
    listed = signed_in.get(made.headers["location"])
    assert "Harvester saved." in listed.text and "Daily counts" in listed.text and "never run" in listed.text
    uid = signed_in.get(f"{API}/harvesters/").json()["results"][0]["uid"]

    ran = signed_in.post(
        f"{PAGE}{uid}/run", data={"csrf_token": csrf_of(listed.text)}, follow_redirects=False
    )
    assert ran.status_code == 303
    deadline = time.monotonic() + 60
    while signed_in.get(f"{API}/harvesters/{uid}/").json()["last_success_at"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    datasets = signed_in.get(f"{API}/datasets/").json()["results"]
    assert sorted(d["dataset_id"] for d in datasets) == ["daily-north", "daily-south"]
    for dataset in datasets:
        assert wait_status(signed_in, dataset["uid"])["is_published"]
    shown = signed_in.get(PAGE).text
    assert "2 created, 0 refreshed" in shown and "2 made, 2 published" in shown


def test_preview_publish_unpublish_and_abort_from_the_page(
    signed_in: TestClient, s3_bucket: S3Bucket
) -> None:
    for name in ("north", "south"):
        s3_bucket.put(f"daily/{name}.csv", b"station,count\na,1\nb,2\n")
    connection = create_connection(signed_in, s3_bucket.server)
    made = signed_in.post(
        f"{API}/harvesters/",
        json={
            "type": "amazon_s3",
            "name": "Daily",
            "url": s3_bucket.url("daily/"),
            "connection": {"uid": connection},
        },
    )
    uid = made.json()["uid"]
    listed = signed_in.get(PAGE).text
    for action in ("run", "preview", "publish", "unpublish", "abort"):
        assert f'action="{PAGE}{uid}/{action}"' in listed
    token = csrf_of(listed)

    assert signed_in.post(f"{PAGE}{uid}/preview", data={"csrf_token": "forged"}).status_code == 403
    preview = signed_in.post(f"{PAGE}{uid}/preview", data={"csrf_token": token})
    assert preview.status_code == 200
    rows = re.findall(r"<tr>\s*<td>(\w+)</td>\s*<td class=\"mono\">([^<]+)</td>", preview.text)
    assert rows == [("create", "north"), ("create", "south")], preview.text
    assert signed_in.get(f"{API}/datasets/").json()["total_count"] == 0

    refused = signed_in.post(f"{PAGE}{uid}/abort", data={"csrf_token": token})
    assert refused.status_code == 409 and "is not running" in refused.text
    assert signed_in.post(f"{PAGE}{uid}/abort", data={"csrf_token": "forged"}).status_code == 403

    with signed_in.app.state.database.session() as session:  # type: ignore[attr-defined]
        harvest_control.request_pass(session, uid)  # "start" before a worker takes it
    aborted = signed_in.post(f"{PAGE}{uid}/abort", data={"csrf_token": token}, follow_redirects=False)
    assert aborted.status_code == 303
    assert "Abort requested" in signed_in.get(aborted.headers["location"]).text
    assert signed_in.get(f"{API}/harvesters/{uid}/").json()["status"] == "idle"

    signed_in.post(f"{PAGE}{uid}/run", data={"csrf_token": token})
    deadline = time.monotonic() + 60
    while signed_in.get(f"{API}/harvesters/{uid}/").json()["last_success_at"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    datasets = signed_in.get(f"{API}/datasets/").json()["results"]
    assert all(wait_status(signed_in, d["uid"])["is_published"] for d in datasets)
    preview = signed_in.post(f"{PAGE}{uid}/preview", data={"csrf_token": token}).text
    assert re.findall(r"<td>(\w+)</td>\s*<td class=\"mono\"><a href=", preview) == ["refresh", "refresh"]

    gone = signed_in.post(f"{PAGE}{uid}/unpublish", data={"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303
    assert "Every dataset of the harvester is unpublished" in signed_in.get(gone.headers["location"]).text
    assert signed_in.get(f"{API}/harvesters/{uid}/").json()["published_datasets_count"] == 0
    back = signed_in.post(f"{PAGE}{uid}/publish", data={"csrf_token": token}, follow_redirects=False)
    assert back.status_code == 303
    assert all(wait_status(signed_in, d["uid"])["is_published"] for d in datasets)
    assert "2 made, 2 published" in signed_in.get(PAGE).text
