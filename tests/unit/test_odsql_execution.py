"""ODSQL end to end: compile, then run on DuckDB over a Parquet file written in tmp_path, and check the
rows that come back. One scenario a line: (request, expected rows)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datawharf.errors import ODSQLError
from datawharf.odsql import CompiledQuery, OutputColumn, QueryRequest, compile_query

UTC = dt.UTC
SCHEMA: dict[str, str] = {
    "name": "text",
    "city": "text",
    "population": "int",
    "area": "double",
    "founded": "date",
    "updated": "datetime",
    "location": "geo_point_2d",
    "shape": "geo_shape",
    "desc": "text",  # a keyword: reachable only as `desc`
    "year": "int",  # shadows a function name: year = 2024 is the field, year(x) the function
}
GEO = pa.struct([("lon", pa.float64()), ("lat", pa.float64())])
ROWS: list[dict[str, Any]] = [
    dict(name="Paris", city="paris", population=2_100_000, area=105.4, founded=dt.date(1900, 1, 1),
         updated=dt.datetime(2024, 12, 31, 23, 30, tzinfo=UTC), location={"lon": 2.35, "lat": 48.85},
         shape='{"type": "Point", "coordinates": [2.35, 48.85]}', desc="capitale", year=2024),
    dict(name="Lyon", city="lyon", population=520_000, area=47.9, founded=dt.date(1950, 6, 15),
         updated=dt.datetime(2024, 5, 1, tzinfo=UTC), location={"lon": 4.83, "lat": 45.76},
         shape=None, desc="gones", year=2023),
    dict(name="Marseille", city="marseille", population=870_000, area=240.6, founded=dt.date(1950, 12, 31),
         updated=None, location={"lon": 5.37, "lat": 43.30}, shape=None, desc=None, year=2024),
    dict(name=None, city="Évry", population=None, area=10.0, founded=None,
         updated=dt.datetime(2023, 1, 1, tzinfo=UTC), location=None, shape=None, desc="préfecture",
         year=None),
    dict(name="Saint-Denis", city="saint denis", population=110_000, area=12.4, founded=dt.date(2000, 3, 1),
         updated=dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC), location={"lon": 2.36, "lat": 48.94},
         shape=None, desc="basilique", year=2023),
    dict(name="O'Brien's \"town\"", city="cork", population=42, area=1.5, founded=dt.date(2010, 7, 14),
         updated=dt.datetime(2010, 7, 14, 8, 0, tzinfo=UTC), location={"lon": -8.47, "lat": 51.90},
         shape=None, desc="it's; DROP TABLE", year=2010),
]  # fmt: skip


def write_parquet(path: Path) -> Path:
    table = pa.table(
        {
            "name": pa.array([r["name"] for r in ROWS], pa.string()),
            "city": pa.array([r["city"] for r in ROWS], pa.string()),
            "population": pa.array([r["population"] for r in ROWS], pa.int64()),
            "area": pa.array([r["area"] for r in ROWS], pa.float64()),
            "founded": pa.array([r["founded"] for r in ROWS], pa.date32()),
            "updated": pa.array([r["updated"] for r in ROWS], pa.timestamp("us", tz="UTC")),
            "location": pa.array([r["location"] for r in ROWS], GEO),
            "shape": pa.array([r["shape"] for r in ROWS], pa.string()),
            "desc": pa.array([r["desc"] for r in ROWS], pa.string()),
            "year": pa.array([r["year"] for r in ROWS], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return path


class Warehouse:
    """A DuckDB connection over the Parquet file, plus a sentinel table injection must not touch."""

    def __init__(self, parquet: Path) -> None:
        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE sentinel AS SELECT 42 AS answer")
        self.source_sql = "read_parquet('" + str(parquet).replace("'", "''") + "')"

    def compile(self, mode: str = "records", **request: Any) -> CompiledQuery:
        return compile_query(QueryRequest(**request), SCHEMA, source_sql=self.source_sql, mode=mode)  # type: ignore[arg-type]

    def run(self, mode: str = "records", **request: Any) -> list[tuple[Any, ...]]:
        compiled = self.compile(mode, **request)
        return self.con.execute(compiled.sql, compiled.params).fetchall()

    def total(self, **request: Any) -> int:
        compiled = self.compile(**request)
        return self.con.execute(compiled.count_sql, compiled.count_params).fetchone()[0]  # type: ignore[index]

    def sentinel_intact(self) -> bool:
        return self.con.execute("SELECT answer FROM sentinel").fetchall() == [(42,)]


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = Warehouse(write_parquet(tmp_path_factory.mktemp("odsql") / "cities.parquet"))
    yield warehouse
    warehouse.con.close()


def names(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [r[0] for r in rows]


# -- select ---------------------------------------------------------------------------------------------
def test_select_star_returns_every_field_in_schema_order(wh: Warehouse) -> None:
    compiled = wh.compile(select="*", limit=1)
    assert [c.name for c in compiled.columns] == list(SCHEMA)
    assert compiled.columns[6] == OutputColumn("location", "geo_point_2d")
    row = wh.con.execute(compiled.sql, compiled.params).fetchone()
    assert row is not None
    assert row[0] == "Paris" and row[6] == {"lon": 2.35, "lat": 48.85}
    assert row[5] == dt.datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


def test_default_select_is_star_and_default_records_limit_is_10(wh: Warehouse) -> None:
    compiled = wh.compile()
    assert [c.name for c in compiled.columns] == list(SCHEMA)
    assert compiled.limit == 10 and len(wh.run()) == len(ROWS)


SELECT_SCENARIOS: list[tuple[dict[str, Any], list[tuple[Any, ...]]]] = [
    (dict(select="name, population", where="population > 800000", order_by="population"),
     [("Marseille", 870_000), ("Paris", 2_100_000)]),
    (dict(select="population * 2 as twice, area / 2 as half, population % 7 as r, -area as neg",
          where="name = 'Lyon'"), [(1_040_000, 23.95, 520_000 % 7, -47.9)]),
    (dict(select="population + 1 - 2 * 3 as p", where="name = 'Lyon'"), [(519_995,)]),
    (dict(select="(population + 1) * 2 as p", where="name = 'Lyon'"), [(1_040_002,)]),
    (dict(select="count(*) as n, count(population) as known, count(distinct founded) as d"), [(6, 5, 5)]),
    (dict(select="sum(population) as s, min(area), max(name)"),
     [(2_100_000 + 520_000 + 870_000 + 110_000 + 42, 1.5, "Saint-Denis")]),
    (dict(select="year(founded) as y, month(founded) as m, day(founded) as d", where="name = 'Lyon'"),
     [(1950, 6, 15)]),
    (dict(select="lower(name) as l, upper(city) as u", where="name = 'Lyon'"), [("lyon", "LYON")]),
    (dict(select="date_format(founded, 'dd/MM/yyyy') as f", where="name = 'Lyon'"), [("15/06/1950",)]),
    (dict(select="date_format(updated, \"yyyy-MM-dd'T'HH:mm\") as f", where="name = 'Saint-Denis'"),
     [("2024-05-01T12:00",)]),
    (dict(select="`desc`, `year`", where="`year` = 2010"), [("it's; DROP TABLE", 2010)]),
    (dict(select="year", where="year = 2010 and year(founded) = 2010"), [(2010,)]),
    (dict(select="name, population > 500000 as big", where="population > 100000", order_by="name"),
     [("Lyon", True), ("Marseille", True), ("Paris", True), ("Saint-Denis", False)]),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "expected"), SELECT_SCENARIOS)
def test_select(wh: Warehouse, request_: dict[str, Any], expected: list[tuple[Any, ...]]) -> None:
    rows = wh.run(**request_)
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        assert row == pytest.approx(want) if any(isinstance(v, float) for v in want) else row == want


def test_avg_and_output_names(wh: Warehouse) -> None:
    compiled = wh.compile(select="avg(area), count(*)")
    assert [c.name for c in compiled.columns] == ["avg(area)", "count(*)"]
    assert [c.type for c in compiled.columns] == ["double", "int"]
    compiled = wh.compile(select="population+1, lower( city ), area*2 as a2")
    assert [(c.name, c.type) for c in compiled.columns] == [
        ("population + 1", "int"),
        ("lower(city)", "text"),
        ("a2", "double"),
    ]
    with pytest.raises(ODSQLError) as err:  # population + 1 is neither grouped nor aggregated
        wh.run(select="avg(area), population + 1")
    assert err.value.error_code == "odsql_not_grouped"
    (avg,) = wh.run(select="avg(area)")[0]
    assert math.isclose(avg, sum(r["area"] for r in ROWS) / len(ROWS))


def test_datetime_functions_follow_the_timezone(wh: Warehouse) -> None:
    # Paris: 2024-12-31T23:30Z is already 2025 in Europe/Paris
    assert wh.run(select="year(updated)", where="name = 'Paris'") == [(2024,)]
    assert wh.run(select="year(updated)", where="name = 'Paris'", timezone="Europe/Paris") == [(2025,)]
    assert wh.run(select="date_format(updated, 'yyyy-MM-dd HH:mm')", where="name = 'Paris'",
                  timezone="America/New_York") == [("2024-12-31 18:30",)]  # fmt: skip


# -- where ----------------------------------------------------------------------------------------------
WHERE_SCENARIOS: list[tuple[str, list[str | None]]] = [
    ("population = 520000", ["Lyon"]),
    ("population != 520000", ["Paris", "Marseille", "Saint-Denis", "O'Brien's \"town\""]),
    ("population <> 520000 and population < 1000000 and population >= 110000", ["Marseille", "Saint-Denis"]),
    ("area <= 10", [None, "O'Brien's \"town\""]),
    ("population > 1000000 or area < 2", ["Paris", "O'Brien's \"town\""]),
    ("not population > 1000", ["O'Brien's \"town\""]),
    ("not (population > 1000 or area > 100)", ["O'Brien's \"town\""]),
    ("name in ('Lyon', 'Paris', 'Nowhere')", ["Paris", "Lyon"]),
    ("population not in (42, 520000)", ["Paris", "Marseille", "Saint-Denis"]),
    ("name like 'saint%'", ["Saint-Denis"]),
    ("name like '_yon'", ["Lyon"]),
    ("name not like '%a%'", ["Lyon", "O'Brien's \"town\""]),
    ("name is null", [None]),
    ("founded is not null and updated is null", ["Marseille"]),
    ("search(city, 'EVRY')", [None]),
    ("search('cork')", ["O'Brien's \"town\""]),
    ("search('saint denis')", ["Saint-Denis"]),
    ("startswith(name, 'mar')", ["Marseille"]),
    ("startswith(city, 'x')", []),
    ("founded >= date'1950-06-15' and founded < date'2000-01-01'", ["Lyon", "Marseille"]),
    ("founded = '1950-06-15'", ["Lyon"]),
    ("updated >= date'2024-05-01T06:00:00Z'", ["Paris", "Saint-Denis"]),
    ("updated < date'2024'", [None, "O'Brien's \"town\""]),
    ("within_distance(location, geom'POINT(2.35 48.85)', 15km)", ["Paris", "Saint-Denis"]),
    ("within_distance(location, geom'POINT(2.35 48.85)', 5000m)", ["Paris"]),
    ("within_distance(location, geom'{\"type\":\"Point\",\"coordinates\":[4.83,45.76]}', 1 mi)", ["Lyon"]),
    ("within_distance(location, geom'POINT(4.83 45.76)', 400km)",
     ["Paris", "Lyon", "Marseille", "Saint-Denis"]),
    ("in_bbox(location, 48, 2, 49, 3)", ["Paris", "Saint-Denis"]),
    ("in_bbox(location, 52, -9, 51, -8)", ["O'Brien's \"town\""]),
    ("paris", ["Paris"]),
    ('"saint"', ["Saint-Denis"]),
    ("\"DROP TABLE\"", ["O'Brien's \"town\""]),
    ("lyon or cork", ["Lyon", "O'Brien's \"town\""]),
    ("préfecture", [None]),
    ("desc = 'gones'", []),  # bare desc is the keyword... as a search term it would be a syntax error
]  # fmt: skip


@pytest.mark.parametrize(("where", "expected"), WHERE_SCENARIOS)
def test_where(wh: Warehouse, where: str, expected: list[str | None]) -> None:
    if where.startswith("desc"):
        with pytest.raises(ODSQLError) as err:
            wh.run(where=where)
        assert err.value.error_code == "odsql_syntax_error"
        assert wh.run(select="name", where="`desc` = 'gones'") == [("Lyon",)]
        return
    assert names(wh.run(select="name", where=where)) == expected
    assert wh.total(select="name", where=where) == len(expected)


def test_several_where_clauses_are_anded(wh: Warehouse) -> None:
    assert names(wh.run(select="name", where=["population > 100000", "area < 50"])) == ["Lyon", "Saint-Denis"]


def test_datetime_where_with_date_literal_uses_the_timezone(wh: Warehouse) -> None:
    # 2024-12-31T23:30Z is 2025-01-01 00:30 in Paris: after midnight Paris time, before it in UTC
    where = "updated >= date'2025-01-01'"
    assert names(wh.run(select="name", where=where)) == []
    assert names(wh.run(select="name", where=where, timezone="Europe/Paris")) == ["Paris"]


# -- group_by, order_by, limit, offset ------------------------------------------------------------------
def test_group_by_field_with_count_and_order(wh: Warehouse) -> None:
    rows = wh.run(select="year, count(*) as n", group_by="year", order_by="n desc, year")
    assert rows == [(2023, 2), (2024, 2), (2010, 1), (None, 1)]
    assert wh.total(select="year, count(*) as n", group_by="year") == 4


def test_group_by_without_select_returns_the_groups(wh: Warehouse) -> None:
    compiled = wh.compile(group_by="year(founded) as y", order_by="y")
    assert [c.name for c in compiled.columns] == ["y"]
    assert wh.run(group_by="year(founded) as y", order_by="y") == [
        (1900,),
        (1950,),
        (2000,),
        (2010,),
        (None,),
    ]


def test_group_by_range(wh: Warehouse) -> None:
    rows = wh.run(select="range(population, 500000) as bucket, count(*) as n",
                  group_by="range(population, 500000) as bucket", order_by="bucket")  # fmt: skip
    assert rows == [(0, 2), (500_000, 2), (2_000_000, 1), (None, 1)]
    rows = wh.run(select="range(area, 100)", group_by="range(area, 100)", order_by="range(area, 100)")
    assert rows == [(0,), (100,), (200,)]


def test_group_by_date_format_and_alias_reuse(wh: Warehouse) -> None:
    request = dict(select="month, count(*) as n", group_by="date_format(updated, 'yyyy-MM') as month",
                   order_by="month desc")  # fmt: skip
    assert wh.run(**request) == [("2024-12", 1), ("2024-05", 2), ("2023-01", 1), ("2010-07", 1), (None, 1)]
    assert wh.run(**request, timezone="Europe/Paris")[0] == ("2025-01", 1)


def test_group_by_several_fields(wh: Warehouse) -> None:
    rows = wh.run(select="year, year(founded) as fy, count(*)", group_by="year, year(founded) as fy",
                  where="year is not null", order_by="year, fy")  # fmt: skip
    assert rows == [(2010, 2010, 1), (2023, 1950, 1), (2023, 2000, 1), (2024, 1900, 1), (2024, 1950, 1)]


def test_order_by_several_keys_and_directions(wh: Warehouse) -> None:
    rows = wh.run(select="year, name", order_by="year desc, name asc", where="year is not null")
    assert rows == [(2024, "Marseille"), (2024, "Paris"), (2023, "Lyon"), (2023, "Saint-Denis"),
                    (2010, "O'Brien's \"town\"")]  # fmt: skip
    assert names(wh.run(select="name", order_by="lower(city) desc", limit=3)) == [
        None,
        "Saint-Denis",
        "Paris",
    ]


def test_limit_and_offset_page_through(wh: Warehouse) -> None:
    pages = [names(wh.run(select="name", order_by="area", limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert pages == [["O'Brien's \"town\"", None], ["Saint-Denis", "Lyon"], ["Paris", "Marseille"], []]
    assert wh.total(select="name", order_by="area", limit=2, offset=2) == 6
    assert wh.run(select="name", limit=0) == []


def test_exports_are_unlimited(wh: Warehouse) -> None:
    compiled = wh.compile(mode="exports", select="name")
    assert compiled.limit is None and "LIMIT" not in compiled.sql
    assert len(wh.run(mode="exports", select="name")) == len(ROWS)
    assert len(wh.run(mode="exports", select="name", limit=-1, offset=5)) == 1
    assert len(wh.run(mode="exports", select="name", limit=1_000_000)) == len(ROWS)


# -- refine, exclude ------------------------------------------------------------------------------------
REFINE_SCENARIOS: list[tuple[list[str], list[str], list[str | None]]] = [
    (["city:lyon"], [], ["Lyon"]),
    (['city:"saint denis"'], [], ["Saint-Denis"]),
    (["year:2024"], [], ["Paris", "Marseille"]),
    (["year:2024", "population:870000"], [], ["Marseille"]),
    (["founded:1950"], [], ["Lyon", "Marseille"]),
    (["founded:1950/06"], [], ["Lyon"]),
    (["founded:1950/12/31"], [], ["Marseille"]),
    (["updated:2024/05"], [], ["Lyon", "Saint-Denis"]),
    ([], ["year:2024"], ["Lyon", None, "Saint-Denis", "O'Brien's \"town\""]),  # exclude keeps null years
    (["year:2023"], ["city:lyon"], ["Saint-Denis"]),
    ([], ["city:lyon", "city:cork"], ["Paris", "Marseille", None, "Saint-Denis"]),
]  # fmt: skip


@pytest.mark.parametrize(("refine", "exclude", "expected"), REFINE_SCENARIOS)
def test_refine_and_exclude(
    wh: Warehouse, refine: list[str], exclude: list[str], expected: list[Any]
) -> None:
    assert names(wh.run(select="name", refine=refine, exclude=exclude)) == expected


def test_refine_on_datetime_follows_the_timezone(wh: Warehouse) -> None:
    assert names(wh.run(select="name", refine=["updated:2025"])) == []
    assert names(wh.run(select="name", refine=["updated:2025"], timezone="Europe/Paris")) == ["Paris"]


def test_count_query_ignores_limit_and_matches_filters(wh: Warehouse) -> None:
    assert wh.total(where="population > 100000", limit=1) == 4
    assert wh.total(select="count(*)") == 1
    assert wh.total(refine=["year:2023"]) == 2
