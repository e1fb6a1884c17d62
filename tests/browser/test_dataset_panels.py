"""The dataset page's look before reading: a publish's conversion errors listed (source, record, field,
value; the first 50 with the total), the map of a geo_point_2d and a geo_shape field drawn with Leaflet
from the Explore API (one SVG path a record, over a plain grid when no tile server is set), the chart of
a text field and of a date field from ``group_by`` (one bar a value, one point a month: the counts the
Explore API gives), and the records table's labels, geo values and sideways scroll.

Documentation screenshots (``DATAWHARF_DOCS_SCREENSHOTS=1``): conversion-errors-, dataset-map-,
dataset-chart-{1280,390}.png in ``docs/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Response, Route, expect

from tests.browser.conftest import (
    Backoffice,
    Shots,
    assert_every_control_labelled,
    serve_logging_to_file,
    sign_in,
)
from tests.browser.publishing import Published, publish_csv
from tests.support.app import BOOTSTRAP_KEY

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Twelve places: a town (the chart's text field), a day (its time series), a point, and for five of
# them a square around the point (the map's shape field); six long notes make the records table wide.
TOWNS = [
    "Paris",
    "Paris",
    "Lyon",
    "Paris",
    "Lille",
    "Lyon",
    "Paris",
    "Nantes",
    "Lyon",
    "Lille",
    "Paris",
    "Lyon",
]
DAYS = [
    "2024-01-15", "2024-01-20", "2024-02-03", "2024-03-09", "2024-03-10", "2024-03-30",
    "2024-04-02", "2024-04-18", "2024-05-05", "2024-06-01", "2024-06-11", "2024-06-29",
]  # fmt: skip
SHAPES = 5


def point(n: int) -> tuple[float, float]:
    """(latitude, longitude) of place ``n``."""
    return round(48.80 + n * 0.01, 4), round(2.30 + n * 0.015, 4)


def square(lat: float, lon: float) -> str:
    d = 0.004
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def places_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    notes = [f"note_{k}" for k in range(1, 7)]
    writer.writerow(["city", "day", "name", "position", "zone", *notes])
    for n, (town, day) in enumerate(zip(TOWNS, DAYS, strict=True)):
        lat, lon = point(n)
        zone = square(lat, lon) if n < SHAPES else ""
        long_notes = [f"a rather long remark number {k} about place {n}" for k in range(1, 7)]
        writer.writerow([town, day, f"Place {n}", f"{lat},{lon}", zone, *long_notes])
    return out.getvalue()


def explore_records(backoffice: Backoffice, dataset_id: str, **params: str) -> dict[str, Any]:
    url = f"{backoffice.base_url}/api/explore/v2.1/catalog/datasets/{dataset_id}/records"
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


INSIDE_THE_MAP_JS = """
(paths) => {
  const box = paths[0].closest("[data-map]").getBoundingClientRect();
  return paths.every((p) => {
    const r = p.getBoundingClientRect();
    return r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;
  });
}
"""


def failed_responses(page: Page) -> list[str]:
    """Every 4xx/5xx answer the page gets from now on (a missing favicon, script or style included)."""
    failed: list[str] = []

    def seen(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", seen)
    return failed


@pytest.fixture(scope="module")
def places(backoffice: Backoffice) -> Published:
    published = publish_csv(
        backoffice,
        places_csv(),
        title="Places",
        separator=";",
        configurations=[
            {"type": "rename", "label": "Town", "from_name": "city", "to_name": "city", "field_label": "Town"}
        ],
    )
    fields = httpx.get(
        f"{backoffice.base_url}/api/explore/v2.1/catalog/datasets/{published.dataset_id}", timeout=30
    ).json()["fields"]
    types = {field["name"]: field["type"] for field in fields}
    assert (types["city"], types["day"], types["position"], types["zone"]) == (
        "text",
        "date",
        "geo_point_2d",
        "geo_shape",
    ), types
    return published


def test_conversion_errors_are_listed(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    # 120 prices typed double; every even one is text: 60 errors, the first 50 listed with the total.
    body = "code;price\n" + "".join(
        f"{n};{'n/a ' + str(n) if n % 2 == 0 else str(n * 1.5)}\n" for n in range(1, 121)
    )
    published = publish_csv(
        backoffice,
        body,
        title="Prices",
        separator=";",
        configurations=[{"type": "type", "label": "t", "field": "price", "type_param": "double"}],
    )
    status = published.status
    assert status["progress"]["records_errors_count"] == 60
    assert status["records_errors"][0]["value"] == "n/a 2"
    failed = failed_responses(page)
    sign_in(page, backoffice, f"/backoffice/datasets/{published.uid}")

    errors = page.locator("#conversion-errors")
    expect(errors.get_by_role("heading", name="60 values did not convert")).to_be_visible()
    expect(errors.locator("caption")).to_have_text("The first 50 of 60")
    rows = errors.locator("tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first.locator("td")).to_have_text(["data.csv", "2", "price", "n/a 2", "double"])
    # Each row is the API's error: the record number of its record_id, its field and its value.
    shown = [row.locator("td").all_inner_texts() for row in rows.all()]
    expected = [
        ["data.csv", error["record_id"].rpartition(":")[2], error["field_uid"], error["value"], "double"]
        for error in status["records_errors"][:50]
    ]
    assert shown == expected
    assert shown[-1][1:4] == ["100", "price", "n/a 100"]
    assert_every_control_labelled(page)
    shots("conversion-errors-1280", docs_name="conversion-errors-1280", part=errors)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots("conversion-errors-390", docs_name="conversion-errors-390", part=errors)
    assert failed == []


def test_map_draws_points_and_shapes(
    page: Page, backoffice: Backoffice, places: Published, shots: Shots
) -> None:
    failed = failed_responses(page)
    sign_in(page, backoffice, f"/backoffice/datasets/{places.uid}")
    card = page.locator("#map-card")
    drawn = card.locator("path.leaflet-interactive")
    # One circle a point: every record has a position.
    expect(drawn).to_have_count(len(TOWNS))
    expect(card.locator("[data-map-summary]")).to_have_text(f"{len(TOWNS)} records drawn.")
    expect(card.locator("[data-map]")).to_have_attribute("data-features", str(len(TOWNS)))
    # No tile server set: no tile, a plain grid instead (one path of lines, not interactive).
    expect(card.locator("img.leaflet-tile")).to_have_count(0)
    expect(card.locator("path.map-grid")).to_have_count(1)
    expect(card).to_contain_text("No tile server is set")
    # The points are where the records say: the circles' centres keep the records' order west to east.
    centres = drawn.evaluate_all("(paths) => paths.map((p) => p.getBoundingClientRect().x)")
    assert centres == sorted(centres)
    assert drawn.evaluate_all(INSIDE_THE_MAP_JS)
    # Each record is named by its first text field on hover.
    drawn.first.hover()
    expect(card.locator(".leaflet-tooltip")).to_have_text(TOWNS[0])
    page.mouse.move(0, 0)
    assert_every_control_labelled(page)
    card.scroll_into_view_if_needed()
    shots("map-points-1280", docs_name="dataset-map-1280", part=card)

    # The shape field: one polygon a record that has one.
    card.get_by_label("Geo field").select_option("zone")
    expect(card.locator("[data-map-summary]")).to_have_text(f"{SHAPES} records drawn.")
    expect(drawn).to_have_count(SHAPES)
    assert all(
        d.count("L") >= 3 for d in drawn.evaluate_all("(paths) => paths.map((p) => p.getAttribute('d'))")
    )
    shots("map-shapes-1280", part=card)

    page.set_viewport_size(PHONE)
    card.get_by_label("Geo field").select_option("position")
    expect(drawn).to_have_count(len(TOWNS))
    assert drawn.evaluate_all(INSIDE_THE_MAP_JS)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots("map-points-390", docs_name="dataset-map-390", part=card)
    assert failed == []


def test_chart_counts_match_group_by(
    page: Page, backoffice: Backoffice, places: Published, shots: Shots
) -> None:
    sign_in(page, backoffice, f"/backoffice/datasets/{places.uid}")
    card = page.locator("#chart-card")
    expect(card.get_by_label("Count the records by")).to_have_value("city")
    bars = card.locator("rect.bar")
    by_town = Counter(TOWNS).most_common()
    expect(bars).to_have_count(len(by_town))
    drawn = bars.evaluate_all("(bars) => bars.map((b) => [b.dataset.value, Number(b.dataset.count)])")
    grouped = explore_records(
        backoffice,
        places.dataset_id,
        select="city, count(*) as n",
        group_by="city",
        order_by="n desc, city",
    )["results"]
    assert drawn == [[g["city"], g["n"]] for g in grouped] == [[t, n] for t, n in by_town]
    # Longer bars for larger counts.
    widths = bars.evaluate_all("(bars) => bars.map((b) => Number(b.getAttribute('width')))")
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    expect(card.locator("[data-chart-summary]")).to_have_text("4 values of Town, by number of records.")
    # The same numbers as a table, folded under the chart.
    card.get_by_text("The numbers").click()
    numbers = card.locator(".chart-numbers tbody tr")
    assert [row.locator("td").all_inner_texts() for row in numbers.all()] == [[t, str(n)] for t, n in by_town]
    assert_every_control_labelled(page)
    card.scroll_into_view_if_needed()
    shots("chart-town-1280", part=card)

    # The date field: a series per month (the dates span half a year), one point a month.
    card.get_by_label("Count the records by").select_option("day")
    points = card.locator("circle.point")
    by_month = sorted(Counter(day[:7] for day in DAYS).items())
    expect(points).to_have_count(len(by_month))
    drawn = points.evaluate_all("(ps) => ps.map((p) => [p.dataset.period, Number(p.dataset.count)])")
    monthly = explore_records(
        backoffice,
        places.dataset_id,
        select="month, count(*) as n",
        group_by="date_format(day, 'yyyy-MM') as month",
        order_by="month",
    )["results"]
    assert drawn == [[m["month"], m["n"]] for m in monthly] == [[m, n] for m, n in by_month]
    expect(card.locator("[data-chart-summary]")).to_have_text(
        "Records per month of day: 6 months, 2024-01 to 2024-06."
    )
    xs = points.evaluate_all("(ps) => ps.map((p) => Number(p.getAttribute('cx')))")
    assert xs == sorted(xs)
    shots("chart-day-1280", docs_name="dataset-chart-1280", part=card)
    # Another period: one point for the year.
    card.get_by_label("Period", exact=True).select_option("year")
    expect(points).to_have_count(1)
    expect(points).to_have_attribute("data-count", str(len(DAYS)))
    card.get_by_label("Period", exact=True).select_option("month")
    expect(points).to_have_count(len(by_month))
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(card.locator("svg")).to_have_attribute(
        "width", str(int(card.locator("[data-chart]").bounding_box()["width"]))
    )
    shots("chart-day-390", docs_name="dataset-chart-390", part=card)


def test_records_table_labels_geo_values_and_scroll(
    page: Page, backoffice: Backoffice, places: Published, shots: Shots
) -> None:
    sign_in(page, backoffice, f"/backoffice/datasets/{places.uid}")
    records = page.locator("#records")
    expect(records.locator("[data-records-summary]")).to_have_text(f"Records 1–10 of {len(TOWNS)}")
    heads = records.locator("thead th")
    # The label first, the technical name under it when they differ.
    expect(heads.first).to_have_text("Towncity")
    expect(heads.first.locator(".tech")).to_have_text("city")
    expect(heads.nth(3)).to_have_text("position")
    first = records.locator("tbody tr").first.locator("td")
    lat, lon = point(0)
    expect(first.nth(3)).to_have_text(f"{lat}, {lon}")
    expect(first.nth(4)).to_have_text(f"Polygon (5 points) around {lat}, {lon}")
    # Wide: the table scrolls in its own box, the page does not.
    box = records.locator(".table-wrap")
    assert box.evaluate("(b) => b.scrollWidth > b.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    shots("records-wide")


TILES = "https://tiles.example.test/{z}/{x}/{y}.svg"
TILE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">'
    b'<rect width="256" height="256" fill="#e4ecd9"/></svg>'
)


@pytest.fixture(scope="module")
def tiled_backoffice(
    backoffice: Backoffice, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backoffice]:
    """A second ``datawharf serve`` with a tile server set (the journey's browser answers its tiles)."""
    home = tmp_path_factory.mktemp("tiled-home")
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": backoffice.moto.host_port,
        "DATAWHARF_MAP_TILES_URL": TILES,
        "DATAWHARF_MAP_TILES_ATTRIBUTION": "Example tiles",
    }
    with serve_logging_to_file(home, env) as base_url:
        yield replace(backoffice, base_url=base_url, home=home)


def test_map_tiles_from_the_configured_url(page: Page, tiled_backoffice: Backoffice, shots: Shots) -> None:
    asked: list[str] = []

    def tile(route: Route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/svg+xml", body=TILE)

    # The tile server is this test: nothing leaves the machine.
    page.route("https://tiles.example.test/**", tile)
    published = publish_csv(tiled_backoffice, places_csv(), title="Tiled places", separator=";")
    sign_in(page, tiled_backoffice, f"/backoffice/datasets/{published.uid}")
    card = page.locator("#map-card")
    expect(card.locator("path.leaflet-interactive")).to_have_count(len(TOWNS))
    expect(card.locator("img.leaflet-tile-loaded").first).to_be_visible()
    expect(card.locator("path.map-grid")).to_have_count(0)
    expect(card.locator(".leaflet-control-attribution")).to_have_text("Example tiles")
    expect(card).not_to_contain_text("No tile server is set")
    assert asked and all(re.fullmatch(r"https://tiles\.example\.test/\d+/\d+/\d+\.svg", url) for url in asked)
    zooms = {int(url.split("/")[3]) for url in asked}
    assert max(zooms) >= 10  # fitted to the records (a few km), not the world
    shots("map-tiles", part=card)


def test_preview_shows_geo_values_as_coordinates(
    page: Page, backoffice: Backoffice, places: Published, shots: Shots
) -> None:
    sign_in(page, backoffice, f"/backoffice/datasets/{places.uid}")
    page.get_by_role("link", name="Add a source").click()
    page.get_by_role("link", name="Amazon S3").click()
    page.get_by_role("radio", name=f"Places in {places.bucket}").check()
    page.get_by_label("File URL").fill("data.csv")
    page.get_by_role("button", name="Preview").click()
    table = page.locator("#preview-table")
    expect(table.locator("tbody tr")).to_have_count(len(TOWNS))
    expect(table.locator("th[data-field=position] .type")).to_have_text("geo_point_2d")
    first = table.locator("tbody tr").first.locator("td")
    lat, lon = point(0)
    expect(first.nth(3)).to_have_text(f"{lat}, {lon}")
    expect(first.nth(4)).to_have_text(f"Polygon (5 points) around {lat}, {lon}")
    expect(page.locator("#preview-summary")).to_contain_text(f"The first {len(TOWNS)} records, 11 fields")
    # A change of parameter swaps the preview in place: its geo cells are read again.
    page.get_by_label("Separator").select_option(label="Comma (,)")
    page.get_by_label("Separator").select_option(label="Semicolon (;)")
    expect(table.locator("tbody tr").first.locator("td").nth(3)).to_have_text(f"{lat}, {lon}")
    shots("preview-geo")


def test_map_waits_for_a_busy_export_slot(page: Page, backoffice: Backoffice, places: Published) -> None:
    # The person's own download holds the address's export slot: the first GeoJSON request is refused
    # as the server would refuse it (429 too_many_exports), the next ones go to the server.
    refused: list[str] = []

    def busy_once(route: Route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=429,
            content_type="application/json",
            body=json.dumps({"error_code": "too_many_exports", "message": "Too many exports at once."}),
        )

    page.route("**/exports/geojson?*", busy_once)
    sign_in(page, backoffice, f"/backoffice/datasets/{places.uid}")
    card = page.locator("#map-card")
    expect(card.locator("path.leaflet-interactive")).to_have_count(len(TOWNS))
    expect(card.locator("[data-map-summary]")).to_have_text(f"{len(TOWNS)} records drawn.")
    assert len(refused) == 1
