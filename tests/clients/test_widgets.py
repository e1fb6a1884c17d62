"""@opendatasoft/visualizations 0.21.0 in Debian's chromium: a page on another origin (a second loopback
port) renders a KPI card, a bar chart (canvas), a table and an SVG choropleth map, fed by datawharf's
Explore API over CORS through @opendatasoft/api-client; the rendered DOM, SVG and canvas are compared
with the published rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ARTIFACTS
from tests.clients.conftest import NODE_MODULES, Portal
from tests.support.explore import ROWS
from tests.support.static_site import static_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TIMEOUT_MS = 30_000
CHART_JS = """
() => {
  const canvas = document.querySelector('#chart canvas');
  const chart = opendatasoft.visualizations._ChartJs.Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
  return {labels: chart.data.labels, values: chart.data.datasets[0].data, type: chart.config.type, painted,
          width: canvas.width};
}
"""


@pytest.fixture(scope="module")
def widgets_page(browser: Browser, portal: Portal, installed_clients: None) -> Iterator[Page]:
    if not (NODE_MODULES / "@opendatasoft" / "visualizations").is_dir():
        pytest.skip(
            "npm is not installed: scripts/install-clients could not install @opendatasoft/visualizations"
        )
    # The page trusts datawharf's test certificate as a visitor's browser trusts a real one.
    context = browser.new_context(viewport={"width": 1280, "height": 1600}, ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with static_site(NODE_MODULES.parent) as site:
        page.goto(f"{site}/widgets.html?api={portal.base_url}&dataset={portal.cities['dataset_id']}")
        page.wait_for_function("() => window.widgets !== undefined", timeout=TIMEOUT_MS)
        state: dict[str, Any] = page.evaluate("() => window.widgets")
        assert state == {"ready": True}, (state, errors)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widgets.png"), full_page=True)  # for a person to look at
        yield page
    context.close()


def test_the_page_is_on_another_origin_and_reads_over_cors(widgets_page: Page, portal: Portal) -> None:
    origin = widgets_page.evaluate("() => location.origin")
    assert origin.startswith("http://127.0.0.1:") and origin != portal.base_url
    # The management API is not opened to other origins: the browser refuses the page its answer.
    refused = widgets_page.evaluate(
        """async (api) => { try { await fetch(api + '/api/automation/v1.0/datasets/'); return 'read'; }
                          catch (error) { return error.name; } }""",
        portal.base_url,
    )
    assert refused == "TypeError"


def test_the_kpi_card_shows_the_record_count(widgets_page: Page) -> None:
    text = widgets_page.locator("#kpi").inner_text()
    assert "Records" in text and str(len(ROWS)) in text


def test_the_bar_chart_draws_the_population_per_city(widgets_page: Page) -> None:
    widgets_page.wait_for_function("() => document.querySelector('#chart canvas') !== null")
    chart = widgets_page.evaluate(CHART_JS)
    cities = sorted({row.city for row in ROWS})
    assert chart["type"] == "bar" and chart["labels"] == cities
    assert chart["values"] == [sum(r.population or 0 for r in ROWS if r.city == city) for city in cities]
    assert chart["width"] > 0 and chart["painted"] > 1000  # bars, axes and labels are on the canvas
    assert "Population per city" in widgets_page.locator("#chart").inner_text()


def test_the_table_lists_the_first_records(widgets_page: Page) -> None:
    rows = widgets_page.locator("#table tbody tr")
    assert rows.count() == 5
    for index, row in enumerate(ROWS[:5]):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[1:3] == [row.name, row.city], cells
        assert cells[3].replace(",", "").replace("\u202f", "").replace(" ", "") == str(row.population)
    assert widgets_page.locator("#table thead").inner_text().split() == ["ID", "Name", "City", "Population"]


def test_the_choropleth_map_draws_one_coloured_shape_an_area(widgets_page: Page) -> None:
    with_area = [row for row in ROWS if row.area is not None]
    paths = widgets_page.locator("#map svg path")
    assert paths.count() >= len(with_area)
    shapes = widgets_page.evaluate(
        """() => Array.from(document.querySelectorAll('#map svg path'))
                 .map((p) => ({d: p.getAttribute('d'), fill: p.getAttribute('fill') || p.style.fill}))
                 .filter((p) => p.d && p.d.length > 10)"""
    )
    assert len(shapes) == len(with_area)
    fills = {shape["fill"] for shape in shapes}
    assert "rgb(1, 2, 3)" not in fills and len(fills) > 1  # every area matched a value; a scale of colours
