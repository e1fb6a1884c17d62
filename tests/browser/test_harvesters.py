"""Catalog > Harvesters in a real browser against ``datawharf serve``: the preview table, then "Abort"
refused with nothing running, "Run now", "Unpublish all" and "Publish all" with their effects read back
from the API."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, assert_every_control_labelled, sign_in
from tests.browser.publishing import automation

pytestmark = pytest.mark.browser


def _until(api: httpx.Client, path: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        shown: dict[str, Any] = api.get(path).json()
        if done(shown):
            return shown
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def _all_published(api: httpx.Client, uid: str, published: int) -> None:
    def settled(harvester: dict[str, Any]) -> bool:
        datasets = api.get("/datasets/", params={"limit": 100}).json()["results"]
        statuses = [api.get(f"/datasets/{d['uid']}/status/").json()["status"] for d in datasets]
        return harvester["published_datasets_count"] == published and all(s == "idle" for s in statuses)

    _until(api, f"/harvesters/{uid}/", settled)


def test_preview_run_unpublish_and_publish_from_the_page(
    page: Page, backoffice: Backoffice, shots: Shots
) -> None:
    bucket = backoffice.moto.create_bucket()
    for name in ("north", "south"):
        backoffice.moto.put_object(bucket, f"daily/{name}.csv", b"station,count\na,1\nb,2\n")
    with automation(backoffice) as api:
        connection = api.post(
            "/datasource_connections/",
            json={
                "type": "amazon_s3",
                "title": f"Harvested {bucket}",
                "url": f"{backoffice.moto.endpoint_url}/{bucket}/",
                "auth": {
                    "type": "aws_signature_v4",
                    "access_key_id": "AKIABROWSER",
                    "secret_access_key": "browser-secret",
                    "region": "us-east-1",
                },
            },
        ).json()["uid"]
        made = api.post(
            "/harvesters/",
            json={
                "type": "amazon_s3",
                "name": f"Daily {bucket}",
                "url": "daily/",
                "connection": {"uid": connection},
                "dataset_id_template": f"{bucket}-{{stem}}",
                "title_template": "Daily {stem}",
            },
        )
        assert made.status_code == 201, made.text
        uid, name = made.json()["uid"], made.json()["name"]

        sign_in(page, backoffice, "/backoffice/harvesters/")
        assert_every_control_labelled(page)
        page.get_by_role("button", name=f"Preview {name}").click()
        table = page.locator("#harvester-preview")
        expect(table.locator("tbody tr")).to_have_count(2)
        expect(table.locator("tbody tr").first).to_contain_text("create")
        expect(table.locator("tbody tr").first).to_contain_text("Daily north")
        shots("preview")
        assert api.get("/harvesters/" + uid + "/").json()["attached_datasets_count"] == 0

        page.get_by_role("link", name="Back to the harvesters").click()
        page.get_by_role("button", name=f"Abort harvesting {name}").click()
        expect(page.get_by_role("alert")).to_contain_text("is not running")

        page.get_by_role("button", name=f"Preview {name}").click()
        page.get_by_role("button", name="Run now").click()
        expect(page.get_by_text("Harvest started")).to_be_visible()
        _until(api, f"/harvesters/{uid}/", lambda h: h["last_success_at"] is not None)
        _all_published(api, uid, 2)

        page.get_by_role("button", name=f"Unpublish all datasets of {name}").click()
        expect(page.get_by_text("Every dataset of the harvester is unpublished")).to_be_visible()
        assert api.get(f"/harvesters/{uid}/").json()["published_datasets_count"] == 0
        page.get_by_role("button", name=f"Publish all datasets of {name}", exact=True).click()
        expect(page.get_by_text("is being published")).to_be_visible()
        _all_published(api, uid, 2)
        page.reload()
        expect(page.get_by_text("2 made, 2 published")).to_be_visible()
        shots("published")
