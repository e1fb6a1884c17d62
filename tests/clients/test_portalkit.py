"""portalkit 0.1.1 (Socrata/CKAN/ArcGIS/Opendatasoft into pandas) against ``datawharf serve``: detection,
search, describe, records pages, the JSON export, GeoPandas, the catalog reference and the CLI, each
compared with the published rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from tests.clients.conftest import BIKE_ROWS, Outcomes, Portal
from tests.support.explore import FIELDS, ROWS, TYPES

pytestmark = pytest.mark.slow
SEARCH_STAR = 'odsql: search(*, "text") (the full-text search over every field) in where'


@pytest.fixture(scope="module")
def outcomes(run_driver: Callable[..., Outcomes], portal: Portal) -> Outcomes:
    plan = {
        "url": portal.base_url,
        "cities": portal.cities["dataset_id"],
        "bikes": portal.bikes["dataset_id"],
    }
    return run_driver("drivers/portalkit_driver.py", plan, {})


def ids(frame: dict[str, Any]) -> list[int]:
    return [record["id"] for record in frame["records"]]


def test_detects_an_opendatasoft_portal(outcomes: Outcomes, portal: Portal) -> None:
    assert outcomes.value("open_detects_kind") == "opendatasoft"


def test_searches_the_catalog(outcomes: Outcomes, portal: Portal) -> None:
    found = {info["id"]: info for info in outcomes.value("search_all")}
    assert set(found) == {portal.cities["dataset_id"], portal.bikes["dataset_id"]}
    assert found[portal.cities["dataset_id"]]["name"] == "Cities of France"
    assert found[portal.bikes["dataset_id"]]["rows"] == len(BIKE_ROWS)
    assert len(outcomes.value("search_limit")) == 1


def test_searches_the_catalog_for_a_word(outcomes: Outcomes, portal: Portal) -> None:
    """portalkit sends ``where=search(*, "bike")``, in the library and in its command line."""
    assert [info["id"] for info in outcomes.value("search_query")] == [portal.bikes["dataset_id"]]
    assert [info["id"] for info in outcomes.value("module_search")] == [portal.cities["dataset_id"]]
    assert [info["id"] for info in outcomes.value("cli_search")] == [portal.bikes["dataset_id"]]


def test_describes_a_dataset_and_refuses_a_missing_one(outcomes: Outcomes, portal: Portal) -> None:
    info = outcomes.value("describe")
    assert info["id"] == portal.cities["dataset_id"] and info["rows"] == len(ROWS)
    assert info["url"] == f"{portal.base_url}/explore/dataset/{portal.cities['dataset_id']}/"
    assert [(field["name"], field["dtype"]) for field in info["fields"]] == [(f, TYPES[f]) for f in FIELDS]
    assert info["fields"][4]["label"] == "Surface (km²)"
    assert outcomes.value("dataset_fields") == info["fields"]
    assert outcomes.raw["describe_missing"]["error"].startswith("DatasetNotFound")


def test_reads_records_pages_into_a_frame(outcomes: Outcomes) -> None:
    frame = outcomes.value("to_pandas_limit")
    assert frame["columns"] == FIELDS
    assert ids(frame) == [row.id for row in ROWS[:25]]
    assert frame["dtypes"]["population"] in ("Int64", "float64")
    assert frame["records"][3]["name"] == ROWS[3].name
    queried = outcomes.value("to_pandas_query")
    expected = sorted((r for r in ROWS if (r.population or 0) > 10000), key=lambda r: -(r.population or 0))
    assert queried["columns"] == ["id", "name", "population"]
    assert [(r["id"], r["population"]) for r in queried["records"]] == [
        (r.id, r.population) for r in expected
    ]


def test_reads_everything_from_the_json_export(outcomes: Outcomes) -> None:
    assert ids(outcomes.value("to_pandas_all")) == [row.id for row in ROWS]
    assert ids(outcomes.value("to_pandas_all_where")) == [row.id for row in ROWS if row.city == "Paris"]


def test_passes_extra_parameters_and_caches(outcomes: Outcomes) -> None:
    assert ids(outcomes.value("to_pandas_refine")) == [row.id for row in ROWS if row.city == "Lyon"]
    assert (
        ids(outcomes.value("to_pandas_cached"))
        == ids(outcomes.value("to_pandas_cached_again"))
        == [1, 2, 3, 4, 5]
    )


def test_reads_a_geodataframe(outcomes: Outcomes) -> None:
    collection = outcomes.value("to_geopandas")
    features = collection["features"]
    assert [feature["properties"]["id"] for feature in features] == [row.id for row in BIKE_ROWS]
    for feature, row in zip(features, BIKE_ROWS, strict=True):
        assert feature["geometry"] == row.area  # the geo_shape field is the one portalkit picks


def test_loads_a_catalog_reference(outcomes: Outcomes, portal: Portal) -> None:
    assert ids(outcomes.value("load_catalog_ref")) == [1, 2, 3]
    listed = outcomes.value("cli_catalog")
    assert "local/cities" in listed and portal.base_url in listed


def test_clears_its_cache(outcomes: Outcomes) -> None:
    """Two queries were cached: ``to_pandas(limit=5)`` (read twice, one entry) and the CLI's geojson get
    (the others asked for no cache)."""
    assert outcomes.value("cli_clear_cache").strip() == "removed 2 cached dataset(s)"


def test_the_command_line(outcomes: Outcomes, portal: Portal) -> None:
    info = outcomes.value("cli_info")
    assert info["rows"] == len(ROWS) and [f["name"] for f in info["fields"]] == FIELDS
    assert outcomes.value("cli_get_csv").startswith(f"wrote {len(ROWS)} rows to ")
    rows = list(csv.DictReader(io.StringIO(outcomes.value("cli_get_csv_file"))))
    assert [int(row["id"]) for row in rows] == [row.id for row in ROWS]
    assert [row["name"] for row in rows] == [row.name for row in ROWS]
    outcomes.value("cli_get_geojson")
    assert len(outcomes.value("cli_get_geojson_file")["features"]) == len(BIKE_ROWS)
