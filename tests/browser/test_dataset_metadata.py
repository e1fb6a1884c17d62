"""The dataset page's metadata and visibility (issue 17): edit the metadata, see it saved as a draft that
Explore does not show yet, publish it and read it back from the Explore API; switch the dataset to
restricted and back, and check what the Explore API answers a caller without a key."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, assert_every_control_labelled, sign_in
from tests.browser.test_records import publish_through_the_api

pytestmark = pytest.mark.browser

EXPLORE = "/api/explore/v2.1/catalog/datasets"
WIDER_THAN_THE_SCREEN = """
(selector) => Array.from(document.querySelectorAll(selector))
  .flatMap((card) => [card, ...card.querySelectorAll("*")])
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
  .map((el) => el.outerHTML.slice(0, 80))
"""


def _dataset_id(backoffice: Backoffice, uid: str) -> str:
    shown = httpx.get(
        f"{backoffice.base_url}/api/automation/v1.0/datasets/{uid}/",
        headers={"Authorization": f"apikey {backoffice.api_key}"},
    )
    return str(shown.json()["dataset_id"])


def _metas(backoffice: Backoffice, dataset_id: str) -> dict[str, object]:
    response = httpx.get(f"{backoffice.base_url}{EXPLORE}/{dataset_id}")
    assert response.status_code == 200, response.text
    default: dict[str, object] = response.json()["metas"]["default"]
    return default


def test_metadata_edited_in_the_page_shows_in_explore_once_published(
    page: Page, backoffice: Backoffice, shots: Shots
) -> None:
    uid, _bucket = publish_through_the_api(backoffice, 5)
    dataset_id = _dataset_id(backoffice, uid)
    sign_in(page, backoffice, f"/backoffice/datasets/{uid}")
    card = page.locator("#metadata")
    card.get_by_label("Description").fill("Items of the city's shops.")
    card.get_by_label("Keywords").fill("bike, city")
    card.get_by_label("Themes").fill("Transport")
    card.get_by_label("Publisher").fill("City of Lyon")
    card.get_by_label("Language of the data").select_option("fr")
    card.get_by_label("License", exact=True).fill("Open Database License (ODbL)")
    card.get_by_label("License identifier").fill("odbl")
    card.get_by_label("Attributions").fill("OpenStreetMap contributors\nCity of Lyon")
    card.get_by_role("button", name="Save the metadata").click()

    expect(page.locator("[data-notice]")).to_contain_text("Metadata saved as a draft")
    expect(page.locator("[data-metadata-draft]")).to_be_visible()
    expect(card.get_by_label("Publisher")).to_have_value("City of Lyon")
    assert "publisher" not in _metas(backoffice, dataset_id)  # a draft: Explore shows the published one
    assert_every_control_labelled(page)

    page.locator("#metadata").get_by_role("button", name="Publish the metadata").click()
    expect(page.locator("[data-notice]")).to_contain_text("Metadata published")
    expect(page.locator("[data-metadata-draft]")).to_have_count(0)
    metas = _metas(backoffice, dataset_id)
    assert metas["description"] == "Items of the city's shops."
    assert metas["keyword"] == ["bike", "city"]
    assert metas["theme"] == ["Transport"]
    assert metas["publisher"] == "City of Lyon"
    assert metas["language"] == "fr"
    assert metas["license"] == "Open Database License (ODbL)"
    assert metas["attributions"] == ["OpenStreetMap contributors", "City of Lyon"]
    found = httpx.get(f"{backoffice.base_url}{EXPLORE}", params={"refine": "keyword:bike"}).json()
    assert dataset_id in [d["dataset_id"] for d in found["results"]]
    shots("metadata-published", docs_name="dataset-metadata-1280", part=card)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(card.get_by_label("Keywords")).to_have_value("bike, city")
    expect(card.get_by_label("Attributions")).to_have_value("OpenStreetMap contributors\nCity of Lyon")
    assert page.evaluate(WIDER_THAN_THE_SCREEN, "#metadata, #visibility") == []  # the form fits a phone
    shots("metadata-phone", docs_name="dataset-metadata-390", part=card)


def test_visibility_switch_restricts_explore(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    uid, _bucket = publish_through_the_api(backoffice, 3)
    dataset_id = _dataset_id(backoffice, uid)
    records = f"{backoffice.base_url}{EXPLORE}/{dataset_id}/records"
    assert httpx.get(records).status_code == 200
    sign_in(page, backoffice, f"/backoffice/datasets/{uid}")
    card = page.locator("#visibility")
    expect(card.get_by_label("Public")).to_be_checked()
    expect(card).to_contain_text("answers 404")
    card.get_by_label("Restricted").check()
    card.get_by_role("button", name="Save the visibility").click()

    expect(page.locator("[data-notice]")).to_contain_text("restricted now")
    expect(page.locator("#visibility").get_by_label("Restricted")).to_be_checked()
    assert httpx.get(records).status_code == 404
    assert httpx.get(f"{backoffice.base_url}{EXPLORE}/{dataset_id}").status_code == 404
    catalog = httpx.get(f"{backoffice.base_url}{EXPLORE}", params={"limit": 100}).json()
    assert dataset_id not in [d["dataset_id"] for d in catalog["results"]]
    keyed = httpx.get(records, headers={"Authorization": f"apikey {backoffice.api_key}"})
    assert keyed.status_code == 200 and keyed.json()["total_count"] == 3
    shots("restricted")

    page.locator("#visibility").get_by_label("Public").check()
    page.locator("#visibility").get_by_role("button", name="Save the visibility").click()
    expect(page.locator("[data-notice]")).to_contain_text("public now")
    assert httpx.get(records).status_code == 200
