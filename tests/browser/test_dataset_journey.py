"""The seed's journey with a mouse: a signature v4 connection made inline in the wizard, a dataset from a
CSV in the moto bucket, its preview (20 rows; a separator change re-previews in place), the identifier
following the title, publish with progress, and the dataset page (versions, schedule, fields, records)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, assert_every_control_labelled, sign_in

pytestmark = pytest.mark.browser

CITIES = ["Paris", "Lyon", "Marseille", "Lille", "Nantes", "Rennes"]
ROWS = 150_000  # about 5 MB: the publish lasts long enough to watch its progress bar


def fruits_csv() -> bytes:
    lines = ["id;fruit;city;price"]
    lines += [f"{n};fruit {n};{CITIES[n % len(CITIES)]};{n * 1.5}" for n in range(1, ROWS + 1)]
    return ("\n".join(lines) + "\n").encode()


def test_dataset_from_a_csv_url(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    bucket = backoffice.moto.create_bucket()
    backoffice.moto.put_object(bucket, "market/fruits.csv", fruits_csv())
    sign_in(page, backoffice, "/backoffice/datasets/")

    page.get_by_role("link", name="New dataset").click()
    expect(page.get_by_role("heading", name="Configure a remote service")).to_be_visible()
    page.get_by_role("link", name="Amazon S3").click()

    # A new signature v4 connection, inline; the file named relative to the connection's URL.
    page.get_by_label("New connection").check()
    page.get_by_label("Title (optional)").fill("Market bucket")
    page.get_by_label("URL", exact=True).fill(f"{backoffice.moto.endpoint_url}/{bucket}/")
    page.get_by_label("Region", exact=True).fill("us-east-1")
    page.get_by_label("Access key", exact=True).fill("AKIAMARKET")
    page.get_by_label("Secret access key", exact=True).fill("market-secret-value")
    page.get_by_label("File URL").fill("market/fruits.csv")
    shots("connection-and-file")
    assert_every_control_labelled(page)
    page.get_by_role("button", name="Preview").click()

    # The preview: the first 20 records, field names, labels and guessed types.
    table = page.locator("#preview-table")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(table.locator("thead th")).to_have_count(4)
    expect(table.locator("th[data-field=price] .type")).to_have_text("double")
    expect(table.locator("th[data-field=id] .type")).to_have_text("int")
    expect(table.locator("tbody tr").first).to_contain_text("Lyon")
    expect(page.get_by_label("Separator")).to_have_value('";"')
    shots("preview", docs_name="preview")
    assert_every_control_labelled(page)

    # Another separator: the columns change, in place (same page, no navigation).
    url_before = page.url
    page.get_by_label("Separator").select_option(label="Comma (,)")
    expect(table.locator("thead th")).to_have_count(1)
    expect(table.locator("thead th")).to_contain_text("id;fruit;city;price")
    assert page.url == url_before
    shots("preview-comma")
    page.get_by_label("Separator").focus()  # a keyboard user's focus survives the refresh
    page.get_by_label("Separator").select_option(label="Semicolon (;)")
    expect(table.locator("thead th")).to_have_count(4)
    expect(page.get_by_label("Separator")).to_be_focused()
    page.get_by_role("button", name="Next: dataset information").click()

    # Dataset information: the identifier follows the title as it is typed, and is checked.
    identifier = page.get_by_label("Dataset technical identifier")
    page.get_by_label("Dataset name").press_sequentially("Qualité de l'air 2024", delay=15)
    expect(identifier).to_have_value("qualite-de-lair-2024")
    expect(page.locator("[data-identifier-check]")).to_contain_text("is available")
    identifier.fill("Hello World!")
    expect(page.locator("[data-identifier-check]")).to_contain_text("Invalid dataset_id")
    identifier.fill("fruit-market-2024")
    expect(page.locator("[data-identifier-check]")).to_contain_text("“fruit-market-2024” is available.")
    page.get_by_label("Dataset name").fill("Fruit market 2024")
    expect(identifier).to_have_value("fruit-market-2024")  # edited by hand: no longer follows
    shots("dataset-information")
    assert_every_control_labelled(page)
    page.get_by_role("button", name="Save and publish").click()

    # Publish with progress, then the final status.
    expect(page.get_by_role("heading", level=1)).to_have_text("Fruit market 2024")
    expect(page.locator("[data-notice]")).to_have_text("Dataset saved, and its first publish started.")
    status = page.locator("#status-card")
    expect(status.get_by_label("Publishing")).to_be_visible()
    expect(status.locator("[data-progress-text]")).to_contain_text("records")
    shots("publishing")
    expect(status.locator("[data-status-badge]")).to_have_text("Idle", timeout=30_000)
    expect(status).to_contain_text("Published")
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text(f"{ROWS:,}")
    expect(versions.first).to_contain_text("Current")
    # The records, paged through the Explore API.
    records = page.locator("#records")
    expect(records.locator("[data-records-summary]")).to_have_text(f"Records 1–10 of {ROWS:,}")
    expect(records.locator("thead th")).to_have_text(["id", "fruit", "city", "price"])
    expect(records.locator("tbody tr").first.locator("td")).to_have_text(["1", "fruit 1", "Lyon", "1.5"])
    records.get_by_role("button", name="Next page").click()
    expect(records.locator("tbody tr").first.locator("td").first).to_have_text("11")
    fields = page.locator("#fields")
    expect(fields.get_by_label("Type of price")).to_have_value("double")
    # The chart starts with the text field of fewest values (fruit has one a record): six cities.
    chart = page.locator("#chart-card")
    expect(chart.get_by_label("Count the records by")).to_have_value("city")
    expect(chart.locator("rect.bar")).to_have_count(len(CITIES))
    assert chart.locator("rect.bar").evaluate_all("(bars) => bars.map((b) => Number(b.dataset.count))") == [
        ROWS // len(CITIES)
    ] * len(CITIES)
    chart.get_by_label("Count the records by").select_option("fruit")
    expect(chart.locator("[data-chart-summary]")).to_have_text(
        f"Each of the {ROWS:,} values of fruit is in one record only: a chart of it says nothing. "
        "Choose another field."
    )
    expect(chart.locator("rect.bar")).to_have_count(0)

    # Schedule, read in words.
    page.get_by_label("Republish on a schedule (unix cron)").fill("0 3 * * *")
    page.get_by_role("button", name="Add the schedule").click()
    expect(page.locator("#schedules [data-cron-words]")).to_have_text("At 03:00, every day")
    expect(page.locator("[data-notice]")).to_have_text("Schedule saved.")
    assert "saved=" not in page.url  # shown once: a reload does not confirm it again

    # A field renamed and retyped: kept as field configurations for the next publish.
    page.get_by_label("Technical name of fruit").fill("fruit_name")
    page.get_by_label("Label of fruit").fill("Fruit name")
    page.get_by_role("button", name="Save the field fruit").click()
    page.get_by_label("Type of id").select_option("text")
    page.get_by_role("button", name="Save the field id").click()
    expect(page.locator("#configurations li")).to_have_count(2)
    expect(page.locator("[data-notice]")).to_have_text("Field change saved: it applies at the next publish.")
    shots("dataset-page", docs_name="dataset-page")
    assert_every_control_labelled(page)

    # The connection is used now: deleting it is refused with the reason.
    page.get_by_role("navigation", name="Catalog").get_by_role("link", name="Connections").click()
    row = page.get_by_role("row").filter(has_text="Market bucket")
    expect(row.locator("td").last).to_have_text("1")
    row.get_by_role("link").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("is used by 1 dataset(s)")
    shots("connection-delete-refused")
