"""ODSQL as Opendatasoft clients write it, through the real Explore API (issue 15, item 4): each form on
the records endpoint, over a dataset published for real, its answer computed from the source rows."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator

import pytest
import shapely
import shapely.ops

from tests.integration.test_explore_records import Items, haversine_m, ids_where
from tests.support.explore import EXPLORE, FIELDS, ROWS, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer

PARIS_BOX = "POLYGON((2.3 48.8, 2.45 48.8, 2.45 48.95, 2.3 48.95, 2.3 48.8))"  # Paris and Saint Denis
BOX = shapely.from_wkt(PARIS_BOX)


def in_box(point: tuple[float, float]) -> bool:
    return bool(BOX.contains(shapely.Point(point)))


def shape_distance_m(area: dict[str, object], center: tuple[float, float]) -> float:
    nearest, _ = shapely.ops.nearest_points(shapely.geometry.shape(area), shapely.Point(center))
    return float(haversine_m(center, (nearest.x, nearest.y)))


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Items]:
    with explore_client(tmp_path_factory.mktemp("explore-odsql-forms"), moto_server) as client:
        bucket = moto_server.create_bucket()
        dataset = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        yield Items(client, dataset["dataset_id"])


@pytest.mark.parametrize(
    ("where", "predicate"),
    [
        ('search(*, "lyon")', lambda r: "lyon" in r.city.lower() or "lyon" in r.name.lower()),
        ('search(name, city, "saint")', lambda r: "saint" in r.city.lower() or "saint" in r.name.lower()),
        ('"mars*"', lambda r: "mars" in r.city.lower() or "mars" in r.name.lower()),
        ("city:'Paris'", lambda r: r.city == "Paris"),
        ("city:Lyon or city:\"Saint Denis\"", lambda r: r.city in ("Lyon", "Saint Denis")),
        ("id:[5 TO 9]", lambda r: 5 <= r.id <= 9),
        ("id in ]5..9[", lambda r: 5 < r.id < 9),
        ("founded in [date'2021'..date'2022'[", lambda r: r.founded.year == 2021),
        ("updated < now()", lambda r: True),
        ("updated >= now(days=-7)", lambda r: False),
        ("founded <= now(year=2022, month=12, day=31)", lambda r: r.founded.year <= 2022),
        ("name like 'item 1*'", lambda r: r.name.lower().startswith("item 1")),
        (f"within(location, geom'{PARIS_BOX}')", lambda r: in_box(r.location)),
        (f"disjoint(location, geom'{PARIS_BOX}')", lambda r: not in_box(r.location)),
        (
            f"intersects(area, geom'{PARIS_BOX}')",
            lambda r: r.area is not None and BOX.intersects(shapely.geometry.shape(r.area)),
        ),
        (
            "within_distance(area, geom'POINT(3.06 50.63)', 3km)",
            lambda r: r.area is not None and shape_distance_m(r.area, (3.06, 50.63)) <= 3_000,
        ),
    ],
)  # fmt: skip
def test_where_forms(items: Items, where: str, predicate: object) -> None:
    expected = ids_where(predicate)  # type: ignore[arg-type]
    assert items.ids(where=where) == expected


def test_include_exclude_select(items: Items) -> None:
    body = items.ok(select="include(*o*)", limit=1)
    assert list(body["results"][0]) == [f for f in FIELDS if "o" in f]
    body = items.ok(select="exclude(area, location)", limit=1)
    assert list(body["results"][0]) == [f for f in FIELDS if f not in ("area", "location")]


def test_aggregates_group_by_a_select_alias(items: Items) -> None:
    body = items.ok(select="count(*) as n, year(founded) as y, median(id) as m", group_by="y", order_by="y")
    years = sorted({r.founded.year for r in ROWS})
    assert body["results"] == [
        {"n": sum(r.founded.year == y for r in ROWS), "y": y,
         "m": statistics.median(r.id for r in ROWS if r.founded.year == y)}
        for y in years
    ]  # fmt: skip


def test_percentile_and_envelope_aggregates(items: Items) -> None:
    body = items.ok(select="percentile(population, 90) as p90, envelope(location) as hull")
    (result,) = body["results"]
    populations = sorted(r.population for r in ROWS if r.population is not None)
    assert result["p90"] == pytest.approx(statistics.quantiles(populations, n=10, method="inclusive")[-1])
    hull = shapely.geometry.shape(result["hull"])
    assert hull.equals(shapely.MultiPoint([r.location for r in ROWS]).convex_hull)


def test_unsupported_functions_are_a_specific_400(items: Items) -> None:
    response = items.get(select="count(*)", group_by="geo_cluster(location)")
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "odsql_unsupported_function"
    assert "geo_cluster" in body["message"]


def test_now_in_select_is_the_request_time(items: Items) -> None:
    before = dt.datetime.now(dt.UTC)
    (result,) = items.ok(select="now(days=-1) as yesterday", limit=1)["results"]
    moment = dt.datetime.fromisoformat(result["yesterday"])
    assert (
        before - dt.timedelta(days=1, seconds=5)
        <= moment
        <= before - dt.timedelta(days=1) + dt.timedelta(minutes=5)
    )


def test_catalog_search_star_as_portalkit_sends_it(items: Items) -> None:
    def dataset_ids(where: str) -> list[str]:
        response = items.client.get(f"{EXPLORE}/catalog/datasets", params={"where": where})
        assert response.status_code == 200, response.text
        return [d["dataset_id"] for d in response.json()["results"]]

    assert dataset_ids('search(*, "items")') == [items.dataset_id]
    assert dataset_ids('search(title, "ite*")') == [items.dataset_id]
    assert dataset_ids(f"dataset_id:'{items.dataset_id}'") == [items.dataset_id]
    assert dataset_ids('search(*, "no such words")') == []


def test_exports_run_the_geo_predicates_too(items: Items) -> None:
    url = f"{EXPLORE}/catalog/datasets/{items.dataset_id}/exports/json"
    response = items.client.get(url, params={"where": f"within(location, geom'{PARIS_BOX}')", "select": "id"})
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()] == ids_where(lambda r: in_box(r.location))
    response = items.client.get(url, params={"select": "envelope(location) as hull, median(id) as m"})
    assert response.status_code == 200, response.text
    (row,) = response.json()
    assert shapely.geometry.shape(row["hull"]).equals(
        shapely.MultiPoint([r.location for r in ROWS]).convex_hull
    )
