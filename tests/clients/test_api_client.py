"""@opendatasoft/api-client 21.8.1 (Opendatasoft's official JavaScript client of the Explore API v2.1) in
node against ``datawharf serve`` over HTTPS: every root, query-builder method and ODSQL helper."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.clients.conftest import BIKE_ROWS, NODE_MODULES, Outcomes, Portal
from tests.support.app import BOOTSTRAP_KEY
from tests.support.explore import FIELDS, ROWS, Row, expected_record

pytestmark = pytest.mark.slow
ODSQL = "odsql: {} (the ODSQL forms real clients send)"


@pytest.fixture(scope="module")
def restricted(installed_clients: None, scratch_dataset: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    if not (NODE_MODULES / "@opendatasoft" / "api-client").is_dir():
        pytest.skip(
            "npm is not installed: scripts/install-clients could not install @opendatasoft/api-client"
        )
    return scratch_dataset("api client restricted", publish=True)


@pytest.fixture(scope="module")
def outcomes(run_driver: Callable[..., Outcomes], portal: Portal, restricted: dict[str, Any]) -> Outcomes:
    plan = {
        "url": portal.base_url,
        "apiKey": BOOTSTRAP_KEY,
        "cities": portal.cities["dataset_id"],
        "bikes": portal.bikes["dataset_id"],
        "restricted": restricted["dataset_id"],
    }
    return run_driver("npm/api_client_driver.mjs", plan, {})


def ids(answer: dict[str, Any]) -> list[int]:
    return [record["id"] for record in answer["results"]]


def row_ids(keep: Callable[[Row], bool]) -> list[int]:
    return [row.id for row in ROWS if keep(row)]


def dataset_ids(answer: dict[str, Any]) -> list[str]:
    return [dataset["dataset_id"] for dataset in answer["results"]]


def test_the_catalog_root_links(outcomes: Outcomes, portal: Portal) -> None:
    links = {link["rel"]: link["href"] for link in outcomes.value("catalog_itself")["links"]}
    base = f"{portal.base_url}/api/explore/v2.1/catalog"
    assert links == {
        "self": base,
        "datasets": f"{base}/datasets",
        "facets": f"{base}/facets",
        "exports": f"{base}/exports",
    }


def test_lists_queries_and_pages_the_catalog(outcomes: Outcomes, portal: Portal) -> None:
    both = sorted([portal.cities["dataset_id"], portal.bikes["dataset_id"]])
    listed = outcomes.value("catalog_datasets")
    assert listed["total_count"] == 2 and sorted(dataset_ids(listed)) == both
    cities = next(d for d in listed["results"] if d["dataset_id"] == portal.cities["dataset_id"])
    assert cities["metas"]["default"]["title"] == "Cities of France"
    assert cities["metas"]["default"]["records_count"] == len(ROWS)
    assert [field["name"] for field in cities["fields"]] == FIELDS
    assert outcomes.value("catalog_select")["results"] == [{"dataset_id": d} for d in both]
    assert dataset_ids(outcomes.value("catalog_order_limit_offset")) == [both[0]]  # desc, second of two
    assert outcomes.value("catalog_group_by")["results"] == [{"visibility": "domain", "n": 2}]


def test_searches_refines_and_excludes_the_catalog(outcomes: Outcomes, portal: Portal) -> None:
    assert dataset_ids(outcomes.value("catalog_text_search")) == [portal.bikes["dataset_id"]]
    assert dataset_ids(outcomes.value("catalog_refine_keyword")) == [portal.bikes["dataset_id"]]
    assert dataset_ids(outcomes.value("catalog_exclude_keyword")) == [portal.cities["dataset_id"]]


def test_searches_the_catalog_with_a_star(outcomes: Outcomes, portal: Portal) -> None:
    assert dataset_ids(outcomes.value("catalog_search_star")) == [portal.bikes["dataset_id"]]


def test_the_catalog_facets(outcomes: Outcomes) -> None:
    (keyword,) = outcomes.value("catalog_facets")["facets"]
    counts = {value["value"]: (value["count"], value["state"]) for value in keyword["facets"]}
    assert counts == {k: (1, "displayed") for k in ("bike", "mobility", "cities", "explore")}
    (refined,) = outcomes.value("catalog_facets_refined")["facets"]
    assert {value["value"]: value["state"] for value in refined["facets"]} == {
        "bike": "refined",
        "mobility": "displayed",
    }


def test_exports_the_catalog(outcomes: Outcomes, portal: Portal) -> None:
    assert sorted(d["dataset_id"] for d in outcomes.value("catalog_export_json")) == sorted(
        [portal.cities["dataset_id"], portal.bikes["dataset_id"]]
    )
    assert outcomes.value("catalog_export_csv").startswith("200 ")
    for format_ in ("xlsx", "rss", "rdf", "ttl", "data.json", "dcat"):
        assert outcomes.value(f"catalog_export_{format_}")["status"] == 200, format_


def test_reads_a_dataset_and_its_facets(outcomes: Outcomes, portal: Portal) -> None:
    dataset = outcomes.value("dataset_itself")
    assert (dataset["dataset_id"], dataset["dataset_uid"]) == (
        portal.cities["dataset_id"],
        portal.cities["uid"],
    )
    assert [(f["name"], f["label"]) for f in dataset["fields"]][:2] == [("id", "ID"), ("name", "Name")]
    (city,) = outcomes.value("dataset_facets")["facets"]
    expected = {name: sum(1 for row in ROWS if row.city == name) for name in {row.city for row in ROWS}}
    assert {value["value"]: value["count"] for value in city["facets"]} == expected
    (refined,) = outcomes.value("dataset_facets_refined")["facets"]
    assert [(v["value"], v["state"]) for v in refined["facets"]] == [("Paris", "refined")]


def test_pages_and_selects_records(outcomes: Outcomes) -> None:
    page = outcomes.value("records_page")
    assert page["total_count"] == len(ROWS)
    assert page["results"] == [expected_record(row) for row in ROWS[2:7]]
    assert outcomes.value("records_select_list")["results"] == [
        {"id": row.id, "name": row.name, "twice": (row.population or 0) * 2} for row in ROWS[:3]
    ]
    assert outcomes.value("records_select_updater")["results"] == [
        {"id": r.id, "city": r.city} for r in ROWS[:2]
    ]
    assert ids(outcomes.value("records_limit_updater")) == [1, 2, 3]
    assert outcomes.value("string_query")["results"] == [expected_record(ROWS[0])]


def test_filters_records_with_the_builders_helpers(outcomes: Outcomes) -> None:
    assert ids(outcomes.value("records_where_compare")) == row_ids(lambda r: (r.population or 0) > 20000)
    assert ids(outcomes.value("records_where_combined")) == row_ids(
        lambda r: (r.population or 0) > 10000 and r.city == "Lyon"
    )
    assert ids(outcomes.value("records_where_all_one_not")) == row_ids(
        lambda r: r.city in ("Paris", "Lyon") and r.id != 5
    )
    assert ids(outcomes.value("records_where_field_string")) == row_ids(lambda r: r.city == "Saint Denis")
    assert ids(outcomes.value("records_exact_match")) == row_ids(lambda r: r.city == "Paris")
    assert ids(outcomes.value("records_where_date")) == row_ids(lambda r: r.founded.year < 2022)
    assert ids(outcomes.value("records_where_date_iso")) == row_ids(lambda r: r.founded.year >= 2024)
    cut = ROWS[0].updated.replace(day=3, hour=0, minute=0)
    assert ids(outcomes.value("records_where_datetime")) == row_ids(lambda r: r.updated < cut)
    assert ids(outcomes.value("records_refine_exclude")) == row_ids(lambda r: r.city == "Paris" and r.id != 5)


def test_text_search_and_startswith(outcomes: Outcomes) -> None:
    basilica = row_ids(lambda r: "basilica" in r.name)
    assert ids(outcomes.value("records_text_search_field")) == basilica
    assert ids(outcomes.value("records_text_search_all")) == basilica
    assert ids(outcomes.value("records_text_start_with")) == row_ids(lambda r: r.city.startswith("Saint"))


def test_suggest(outcomes: Outcomes) -> None:
    assert ids(outcomes.value("records_text_suggest")) == row_ids(lambda r: r.city == "Marseille")


def test_filters_with_the_colon_form_of_its_readme(outcomes: Outcomes) -> None:
    assert ids(outcomes.value("records_where_colon_readme")) == row_ids(lambda r: r.city == "Paris")


def test_groups_orders_and_lowers(outcomes: Outcomes) -> None:
    cities = sorted({row.city for row in ROWS})
    counts = {city: sum(1 for row in ROWS if row.city == city) for city in cities}
    assert outcomes.value("records_group_by")["results"] == [{"city": c, "n": counts[c]} for c in cities]
    assert outcomes.value("records_group_by_lower")["results"] == [
        {"low": c.lower(), "n": counts[c]} for c in cities
    ]
    readme = outcomes.value("records_group_by_readme")["results"]
    assert [group["town"] for group in readme] == ["Lille"] * 3
    by_population = sorted(ROWS, key=lambda r: -(r.population or -1))[:3]
    assert outcomes.value("records_order_by")["results"] == [
        {"id": r.id, "population": r.population} for r in by_population
    ]


def test_groups_by_a_select_alias(outcomes: Outcomes) -> None:
    cities = sorted({row.city for row in ROWS})
    assert [group["town"] for group in outcomes.value("records_group_by_alias")["results"]] == cities


def test_language_and_timezone(outcomes: Outcomes) -> None:
    zone = ZoneInfo("Europe/Paris")
    assert outcomes.value("records_lang_timezone")["results"] == [
        {"id": 1, "updated": ROWS[0].updated.astimezone(zone).isoformat()}
    ]


def test_reads_one_record_by_its_id(outcomes: Outcomes) -> None:
    assert outcomes.value("record_id") == expected_record(ROWS[0])
    assert outcomes.raw["record_missing"]["error"].startswith('HTTP 404: {"error_code":"record_not_found"')


def test_exports_the_dataset(outcomes: Outcomes) -> None:
    big = [row for row in ROWS if (row.population or 0) > 25000]
    status, _, body = outcomes.value("export_json").partition(" ")
    assert status == "200" and json.loads(body) == [expected_record(row) for row in big]
    status, _, body = outcomes.value("export_geojson").partition(" ")
    features = json.loads(body)["features"]
    assert [f["properties"]["id"] for f in features] == [row.id for row in big]
    status, _, body = outcomes.value("export_jsonl").partition(" ")
    assert [json.loads(line)["id"] for line in body.splitlines()] == [row.id for row in big]
    status, _, body = outcomes.value("export_csv").partition(" ")
    assert body.lstrip("\ufeff").splitlines() == ['"id";"name"'] + [f'{r.id};"{r.name}"' for r in ROWS[:3]]
    assert outcomes.value("export_xlsx")["head"] == "PK\x03\x04"
    assert outcomes.value("export_parquet")["head"] == "PAR1"


def test_the_geojson_geometry_is_the_shape(outcomes: Outcomes) -> None:
    big = [row for row in ROWS if (row.population or 0) > 25000]
    features = json.loads(outcomes.value("export_geojson").partition(" ")[2])["features"]
    assert [f["geometry"] for f in features] == [row.area for row in big]


def test_exports_the_geo_formats(outcomes: Outcomes) -> None:
    heads = {"shp": "PK\x03\x04", "kml": "<?xm", "fgb": "fgb\x03", "gpx": "<?xm"}
    for format_, head in heads.items():
        assert outcomes.value(f"export_{format_}")["status"] == 200, format_
        assert outcomes.value(f"export_{format_}")["head"] == head, format_


def test_formats_datawharf_does_not_write_are_refused_by_name(outcomes: Outcomes) -> None:
    """The reference's linked-data formats and ``ov2`` are not served (docs/explore.md, coverage); the
    client's ``mvt`` and ``ical`` are not even in the reference."""
    for format_ in ("jsonld", "rdfxml", "turtle", "n3", "mvt", "ical"):
        assert outcomes.value(f"export_{format_}")["status"] == 400, format_


def test_errors_keys_and_the_other_roots(outcomes: Outcomes) -> None:
    assert outcomes.raw["missing_dataset"]["error"].startswith('HTTP 404: {"error_code":"dataset_not_found"')
    assert outcomes.raw["bad_odsql"]["error"].startswith('HTTP 400: {"error_code":"odsql_syntax_error"')
    assert outcomes.raw["restricted_without_key"]["error"].startswith("HTTP 404: ")
    assert ids(outcomes.value("restricted_with_key")) == [row.id for row in BIKE_ROWS]  # "ApiKey <key>"
    # Opendatasoft's monitoring and data network, and the undocumented assets, exist on its SaaS only.
    for name in ("monitoring", "data_network", "catalog_assets"):
        assert outcomes.raw[name]["error"].startswith("HTTP 404: "), name
