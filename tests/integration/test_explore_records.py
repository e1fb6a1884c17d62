"""Explore API v2.1 records: every ODSQL clause over a dataset published for real (CSV on the moto S3
server, published through the management API). Expected values are computed from the source rows."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.support.explore import (
    EXPLORE,
    FIELDS,
    ROWS,
    Row,
    csv_bytes,
    expected_record,
    explore_client,
    publish_csv,
)
from tests.support.moto import MotoServer

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Items:
    client: TestClient
    dataset_id: str

    def get(self, **params: Any) -> Any:
        return self.client.get(f"{EXPLORE}/catalog/datasets/{self.dataset_id}/records", params=params)

    def ok(self, **params: Any) -> dict[str, Any]:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, **params: Any) -> list[int]:
        return [r["id"] for r in self.ok(select="id", limit=100, order_by="id", **params)["results"]]


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Items]:
    with explore_client(tmp_path_factory.mktemp("explore-records"), moto_server) as client:
        bucket = moto_server.create_bucket()
        dataset = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        yield Items(client, dataset["dataset_id"])


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lon1, lat1), (lon2, lat2) = (map(math.radians, a)), (map(math.radians, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def ids_where(predicate: Callable[[Row], bool]) -> list[int]:
    return [r.id for r in ROWS if predicate(r)]


# -- shape, select ----------------------------------------------------------------------------------------
def test_default_page_is_ten_full_records_in_file_order(items: Items) -> None:
    body = items.ok()
    assert body["total_count"] == len(ROWS)
    assert body["results"] == [expected_record(r) for r in ROWS[:10]]
    assert list(body["results"][0]) == FIELDS


def test_select_expressions_and_functions(items: Items) -> None:
    row = ROWS[3]  # id 4, "Café de l'Élysée"
    body = items.ok(
        select="name, population * 2 as twice, surface_km2 / 2 as half, upper(city) as c, lower(name) as l, "
        "year(founded) as y, month(founded) as m, day(founded) as d, date_format(founded, 'yyyy/MM') as ym, "
        "population > 3000 as big",
        where=f"id = {row.id}",
    )
    assert body["total_count"] == 1
    assert body["results"] == [
        {
            "name": row.name,
            "twice": row.population * 2,
            "half": row.surface_km2 / 2,
            "c": row.city.upper(),
            "l": row.name.lower(),
            "y": row.founded.year,
            "m": row.founded.month,
            "d": row.founded.day,
            "ym": row.founded.strftime("%Y/%m"),
            "big": row.population > 3000,
        }
    ]


def test_select_star_and_a_column_named_after_its_expression(items: Items) -> None:
    body = items.ok(select="*, id + 1", where="id = 2")
    assert body["results"] == [{**expected_record(ROWS[1]), "id + 1": 3}]


def test_aggregates(items: Items) -> None:
    body = items.ok(
        select="count(*) as n, count(distinct city) as cities, count(population) as with_pop, "
        "sum(population) as total, avg(surface_km2) as mean, min(founded) as first, max(updated) as last, "
        "max(name) as last_name"
    )
    populations = [r.population for r in ROWS if r.population is not None]
    surfaces = [r.surface_km2 for r in ROWS if r.surface_km2 is not None]
    assert body["total_count"] == 1
    [result] = body["results"]
    assert result["mean"] == pytest.approx(sum(surfaces) / len(surfaces))
    assert {k: v for k, v in result.items() if k != "mean"} == {
        "n": len(ROWS),
        "cities": len({r.city for r in ROWS}),
        "with_pop": len(populations),
        "total": sum(populations),
        "first": min(r.founded for r in ROWS).isoformat(),
        "last": max(r.updated for r in ROWS).isoformat(),
        "last_name": max(r.name for r in ROWS),
    }


def test_non_finite_results_are_null(items: Items) -> None:
    body = items.ok(select="surface_km2 * 1e308 * 10 as huge", where="id = 1")
    assert body["results"] == [{"huge": None}]


# -- where ------------------------------------------------------------------------------------------------
PARIS_CENTER = (2.3522, 48.8566)
WHERES: list[tuple[str, Callable[[Row], bool]]] = [
    ("population > 10000 and city = 'Paris'", lambda r: (r.population or 0) > 10000 and r.city == "Paris"),
    ("city = 'Lyon' or city = 'Lille'", lambda r: r.city in ("Lyon", "Lille")),
    ("not city = 'Lyon'", lambda r: r.city != "Lyon"),
    ("population != 1017 and population <> 2034", lambda r: r.population not in (None, 1017, 2034)),
    ("surface_km2 >= 10.75 and surface_km2 < 20", lambda r: 10.75 <= (r.surface_km2 or 0) < 20),
    ("city in ('Paris', 'Marseille')", lambda r: r.city in ("Paris", "Marseille")),
    ("id not in (1, 2, 3)", lambda r: r.id not in (1, 2, 3)),
    ("name like 'item 1%'", lambda r: r.name.lower().startswith("item 1")),
    ("name like '%_lys%'", lambda r: "lys" in r.name.lower()[1:]),
    ("population is null", lambda r: r.population is None),
    (
        "surface_km2 is not null and population is not null",
        lambda r: None not in (r.surface_km2, r.population),
    ),
    ("area is not null", lambda r: r.area is not None),
    ("search('cafe')", lambda r: "cafe" in fold(r.name) or "cafe" in fold(r.city)),
    ("search(name, 'SAINT')", lambda r: "saint" in fold(r.name)),
    (
        "search('saint basilica')",
        lambda r: all(any(w in fold(f) for f in (r.name, r.city)) for w in ("saint", "basilica")),
    ),
    ("startswith(name, 'item 2')", lambda r: r.name.lower().startswith("item 2")),
    ("startswith(city, 'Saint')", lambda r: r.city.startswith("Saint")),
    ("founded >= date'2023-01-01'", lambda r: r.founded >= dt.date(2023, 1, 1)),
    ("founded < '2021-06'", lambda r: r.founded < dt.date(2021, 6, 1)),
    (
        "updated >= date'2024-04-05T00:00:00Z'",
        lambda r: r.updated >= dt.datetime(2024, 4, 5, tzinfo=dt.UTC),
    ),
    ("year(founded) = 2022", lambda r: r.founded.year == 2022),
    (
        "within_distance(location, geom'POINT(2.3522 48.8566)', 5km)",
        lambda r: haversine_m(r.location, PARIS_CENTER) <= 5000,
    ),
    (
        "within_distance(location, geom'POINT(2.3522 48.8566)', 12000m)",
        lambda r: haversine_m(r.location, PARIS_CENTER) <= 12000,
    ),
    (
        "in_bbox(location, 48.95, 2.40, 48.80, 2.30)",
        lambda r: 2.30 <= r.location[0] <= 2.40 and 48.80 <= r.location[1] <= 48.95,
    ),
    ("paris", lambda r: "paris" in fold(r.name) or "paris" in fold(r.city)),
    ('"saint denis"', lambda r: all(any(w in fold(f) for f in (r.name, r.city)) for w in ("saint", "denis"))),
    ("lyon or lille", lambda r: r.city in ("Lyon", "Lille")),
    ("élysée and id < 10", lambda r: "elysee" in fold(r.name) and r.id < 10),
    ("(id + 1) * 2 = 10", lambda r: (r.id + 1) * 2 == 10),
    ("id % 7 = 0 and -id < -10", lambda r: r.id % 7 == 0 and -r.id < -10),
]


@pytest.mark.parametrize(("where", "predicate"), WHERES, ids=[w for w, _ in WHERES])
def test_where(items: Items, where: str, predicate: Callable[[Row], bool]) -> None:
    expected = ids_where(predicate)
    assert expected, "each case should select something"
    assert items.ids(where=where) == expected
    assert items.ok(where=where, limit=0) == {"total_count": len(expected), "results": []}


def test_several_where_parameters_are_anded(items: Items) -> None:
    assert items.ids(where=["city = 'Paris'", "id > 10"]) == ids_where(
        lambda r: r.city == "Paris" and r.id > 10
    )


def test_where_with_nothing_matching(items: Items) -> None:
    assert items.ok(where="id > 1000") == {"total_count": 0, "results": []}


# -- group_by ---------------------------------------------------------------------------------------------
def test_group_by_field(items: Items) -> None:
    body = items.ok(select="city, count(*) as n, sum(population) as pop", group_by="city", order_by="city")
    counts = Counter(r.city for r in ROWS)
    assert body["total_count"] == len(counts)
    assert body["results"] == [
        {"city": c, "n": counts[c], "pop": sum(r.population or 0 for r in ROWS if r.city == c)}
        for c in sorted(counts)
    ]


def test_group_by_without_select_returns_the_groups(items: Items) -> None:
    body = items.ok(group_by="city", order_by="city desc")
    assert body["results"] == [{"city": c} for c in sorted({r.city for r in ROWS}, reverse=True)]


def test_group_by_range(items: Items) -> None:
    body = items.ok(
        select="bucket, count(*) as n", group_by="range(population, 10000) as bucket", order_by="bucket"
    )
    buckets = Counter(
        None if r.population is None else math.floor(r.population / 10000) * 10000 for r in ROWS
    )
    expected = [{"bucket": b, "n": buckets[b]} for b in sorted(b for b in buckets if b is not None)]
    expected.append({"bucket": None, "n": buckets[None]})  # nulls last
    assert body["total_count"] == len(buckets)
    assert body["results"] == expected


def test_group_by_date_format_with_aggregate_order(items: Items) -> None:
    body = items.ok(
        select="year, count(*) as n",
        group_by="date_format(founded, 'yyyy') as year",
        order_by="n desc, year",
    )
    years = Counter(str(r.founded.year) for r in ROWS)
    assert body["results"] == [
        {"year": y, "n": n} for y, n in sorted(years.items(), key=lambda item: (-item[1], item[0]))
    ]


def test_group_by_two_expressions_and_paging_groups(items: Items) -> None:
    body = items.ok(
        select="city, year(founded) as y, count(*) as n",
        group_by="city, year(founded) as y",
        order_by="city, y",
        limit=3,
        offset=2,
    )
    groups = Counter((r.city, r.founded.year) for r in ROWS)
    ordered = sorted(groups)
    assert body["total_count"] == len(groups)
    assert body["results"] == [{"city": c, "y": y, "n": groups[(c, y)]} for c, y in ordered[2:5]]


# -- order_by, limit, offset ------------------------------------------------------------------------------
def test_order_by_several_keys_nulls_last(items: Items) -> None:
    body = items.ok(select="id", order_by="city asc, population desc", limit=100)
    expected = sorted(ROWS, key=lambda r: (r.city, r.population is None, -(r.population or 0)))
    assert [r["id"] for r in body["results"]] == [r.id for r in expected]


def test_order_by_expression_and_alias(items: Items) -> None:
    body = items.ok(select="id, surface_km2 * 2 as s2", order_by="s2 desc", limit=3)
    expected = sorted((r for r in ROWS if r.surface_km2 is not None), key=lambda r: -r.surface_km2)[:3]
    assert [r["id"] for r in body["results"]] == [r.id for r in expected]
    by_expression = items.ok(select="id", order_by="-id", limit=2)
    assert [r["id"] for r in by_expression["results"]] == [30, 29]


def test_limit_offset_pages(items: Items) -> None:
    page = items.ok(select="id", limit=5, offset=10)
    assert page == {"total_count": len(ROWS), "results": [{"id": i} for i in range(11, 16)]}
    assert items.ok(select="id", limit=0)["results"] == []
    assert len(items.ok(limit=100)["results"]) == len(ROWS)
    assert items.ok(select="id", limit=10, offset=9990) == {"total_count": len(ROWS), "results": []}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 101}, "invalid_limit"),
        ({"limit": -1}, "invalid_limit"),
        ({"limit": 10, "offset": 9991}, "invalid_offset"),
        ({"offset": -1}, "invalid_offset"),
        ({"limit": "ten"}, "validation_error"),
    ],
)
def test_limit_offset_bounds(items: Items, params: dict[str, Any], code: str) -> None:
    response = items.get(**params)
    assert response.status_code == 400
    assert response.json()["error_code"] == code


# -- refine, exclude --------------------------------------------------------------------------------------
def test_refine_and_exclude(items: Items) -> None:
    assert items.ids(refine="city:Paris") == ids_where(lambda r: r.city == "Paris")
    assert items.ids(refine='city:"Saint Denis"') == ids_where(lambda r: r.city == "Saint Denis")
    assert items.ids(refine="founded:2022") == ids_where(lambda r: r.founded.year == 2022)
    assert items.ids(refine="founded:2022/03") == ids_where(
        lambda r: r.founded.strftime("%Y/%m") == "2022/03"
    )
    assert items.ids(refine=["city:Paris", "population:5085"]) == ids_where(
        lambda r: r.city == "Paris" and r.population == 5085
    )
    assert items.ids(exclude="city:Paris") == ids_where(lambda r: r.city != "Paris")
    # exclude keeps the records where the field is empty
    assert items.ids(exclude="population:1017") == ids_where(lambda r: r.population != 1017)
    assert 7 in items.ids(exclude="population:1017")
    assert items.ids(refine="city:Lyon", exclude="founded:2021", where="id > 3") == ids_where(
        lambda r: r.city == "Lyon" and r.founded.year != 2021 and r.id > 3
    )


def test_refine_errors(items: Items) -> None:
    for refine, code in (
        ("cityParis", "invalid_refine"),
        ("nope:1", "unknown_field"),
        ("location:1", "invalid_refine"),
    ):
        response = items.get(refine=refine)
        assert response.status_code == 400, refine
        assert response.json()["error_code"] == code
        assert response.json()["detail"]["clause"] == "refine"


# -- timezone ---------------------------------------------------------------------------------------------
def test_timezone_applies_to_output_functions_and_literals(items: Items) -> None:
    row = ROWS[0]  # updated 2024-04-01T05:30Z
    body = items.ok(
        select="updated, hour(updated) as h, date_format(updated, 'yyyy-MM-dd HH:mm') as local",
        where=f"id = {row.id}",
        timezone="Europe/Paris",
    )
    local = row.updated.astimezone(PARIS)
    assert body["results"] == [
        {"updated": local.isoformat(), "h": local.hour, "local": local.strftime("%Y-%m-%d %H:%M")}
    ]
    assert body["results"][0]["updated"].endswith("+02:00")
    # A datetime literal without offset is read in the request's timezone.
    where = "updated < '2024-04-01T07:00:00'"
    in_utc = ids_where(lambda r: r.updated < dt.datetime(2024, 4, 1, 7, tzinfo=UTC))
    in_paris = ids_where(lambda r: r.updated < dt.datetime(2024, 4, 1, 7, tzinfo=PARIS))
    assert in_utc != in_paris
    assert items.ids(where=where) == in_utc
    assert items.ids(where=where, timezone="Europe/Paris") == in_paris
    # and so are datetime refines
    assert items.ids(refine="updated:2024/04/01", timezone="Asia/Tokyo") == ids_where(
        lambda r: r.updated.astimezone(ZoneInfo("Asia/Tokyo")).date() == dt.date(2024, 4, 1)
    )


def test_unknown_timezone(items: Items) -> None:
    response = items.get(timezone="Mars/Olympus")
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_timezone"


# -- names and errors -------------------------------------------------------------------------------------
def test_backtick_quoted_names(items: Items) -> None:
    body = items.ok(select="`name` as `desc`, `id`", where="`city` = 'Lyon'", order_by="`desc` desc", limit=2)
    lyon = sorted((r for r in ROWS if r.city == "Lyon"), key=lambda r: r.name, reverse=True)[:2]
    assert body["results"] == [{"desc": r.name, "id": r.id} for r in lyon]


def test_unknown_field_lists_the_fields(items: Items) -> None:
    response = items.get(select="nope")
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "unknown_field"
    assert body["detail"]["available_fields"] == FIELDS
    assert "nope" in body["message"]


def test_syntax_error_names_position_and_token(items: Items) -> None:
    response = items.get(select="name, city frm")
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "odsql_syntax_error"
    assert body["detail"] == {"position": 11, "token": "frm", "clause": "select"}
    assert 'ODSQL syntax error at 11: unexpected "frm"' in body["message"]


def test_type_mismatch_and_ungrouped(items: Items) -> None:
    mismatch = items.get(where="founded > 'hello' and population = 'x'")
    assert mismatch.status_code == 400
    assert mismatch.json()["error_code"] in ("odsql_invalid_date", "odsql_type_mismatch")
    ungrouped = items.get(select="name, count(*)", group_by="city")
    assert ungrouped.status_code == 400
    assert ungrouped.json()["error_code"] == "odsql_not_grouped"
