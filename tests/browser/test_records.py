"""A published dataset's page: Add a source with a saved connection (the preview at phone width), publish
and restore a version; the records table paging through the Explore API from the browser, and exports."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, sign_in
from tests.browser.publishing import publish_csv

pytestmark = pytest.mark.browser


def publish_through_the_api(
    backoffice: Backoffice, rows: int, *, restricted: bool = False
) -> tuple[str, str]:
    """A published dataset of ``rows`` items (code, name)."""
    body = "code,name\n" + "".join(f"{n},item {n}\n" for n in range(1, rows + 1))
    published = publish_csv(backoffice, body, title="Items", restricted=restricted)
    return published.uid, published.bucket


def test_records_table_pages_through_explore(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    # Restricted: the public Explore API does not show it; the page reads it with the signed-in key.
    uid, _bucket = publish_through_the_api(backoffice, 25, restricted=True)
    dataset_id = httpx.get(
        f"{backoffice.base_url}/api/automation/v1.0/datasets/{uid}/",
        headers={"Authorization": f"apikey {backoffice.api_key}"},
    ).json()["dataset_id"]
    public = httpx.get(f"{backoffice.base_url}/api/explore/v2.1/catalog/datasets/{dataset_id}/records")
    assert public.status_code == 404
    sign_in(page, backoffice, f"/backoffice/datasets/{uid}")
    records = page.locator("#records")
    expect(records.locator("[data-records-summary]")).to_have_text("Records 1–10 of 25")
    expect(records.locator("thead th")).to_have_text(["code", "name"])
    expect(records.locator("tbody tr").first).to_contain_text("item 1")
    records.get_by_role("button", name="Next page").click()
    expect(records.locator("[data-records-summary]")).to_have_text("Records 11–20 of 25")
    expect(records.locator("tbody tr").first).to_contain_text("item 11")
    records.get_by_role("button", name="Next page").click()
    expect(records.locator("tbody tr")).to_have_count(5)
    expect(records.get_by_role("button", name="Next page")).to_be_disabled()
    records.get_by_role("button", name="Previous page").click()
    expect(records.locator("[data-records-summary]")).to_have_text("Records 11–20 of 25")
    shots("records")
    with page.expect_download() as download:
        records.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert exported[0] == '"code";"name"'
    assert len(exported) == 26


def test_add_a_source_with_a_saved_connection(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    uid, bucket = publish_through_the_api(backoffice, 25)
    backoffice.moto.put_object(
        bucket, "more.csv", b"code|name\n" + b"".join(b"%d|more %d\n" % (n, n) for n in range(30))
    )
    sign_in(page, backoffice, f"/backoffice/datasets/{uid}")
    page.get_by_role("link", name="Add a source").click()
    page.get_by_role("link", name="Amazon S3").click()
    page.get_by_role("radio", name=f"Items in {bucket}").check()
    expect(page.get_by_label("Access key", exact=True)).to_be_hidden()
    page.get_by_label("File URL").fill("more.csv")
    page.get_by_role("button", name="Preview").click()
    table = page.locator("#preview-table")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(page.get_by_label("Separator")).to_have_value('"|"')
    # At phone width the page does not scroll sideways; the table scrolls in its own box.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shots("preview-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Add the source").click()
    expect(page).to_have_url(backoffice.url(f"/backoffice/datasets/{uid}"))
    expect(page.get_by_role("heading", name="Sources").locator("..").locator("li")).to_have_count(2)
    expect(page.locator("body")).to_contain_text("more.csv")
    # Publish both sources (records concatenated), then restore the first version.
    page.get_by_role("button", name="Publish", exact=True).click()
    status = page.locator("#status-card")
    expect(status.locator("[data-status-badge]")).to_have_text("Idle", timeout=30_000)
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.nth(0).locator("td").nth(1)).to_have_text("55")
    expect(versions.nth(0)).to_contain_text("Current")
    expect(versions.nth(1).locator("td").nth(1)).to_have_text("25")
    versions.nth(1).get_by_role("button", name="Restore").click()
    expect(versions).to_have_count(3)
    expect(versions.nth(0)).to_contain_text("(restored)")
    expect(versions.nth(0)).to_contain_text("Current")
    expect(versions.nth(0).locator("td").nth(1)).to_have_text("25")
    shots("restored")
