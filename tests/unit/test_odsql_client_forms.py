"""ODSQL as Opendatasoft clients write it (issue 15, item 4): each form compiled and run on DuckDB over
the Parquet file of ``test_odsql_execution``, its rows compared with what the source rows say."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterator
from typing import Any

import pytest
import shapely

from datawharf.errors import ODSQLError
from datawharf.odsql import geo, parse_expression, parse_select, to_odsql
from tests.unit.test_odsql_execution import ROWS, SCHEMA, Warehouse, names, write_parquet

TEXT_FIELDS = [f for f, t in SCHEMA.items() if t == "text"]


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = Warehouse(write_parquet(tmp_path_factory.mktemp("odsql-forms") / "cities.parquet"))
    geo.register(warehouse.con)  # what the query engine does for each of its connections
    yield warehouse
    warehouse.con.close()


def source_names(predicate: Any) -> list[Any]:
    return sorted((r["name"] for r in ROWS if predicate(r)), key=str)


def run_names(wh: Warehouse, where: str, **request: Any) -> list[Any]:
    return sorted(names(wh.run(select="name", where=where, limit=100, **request)), key=str)


def has(row: dict[str, Any], fields: list[str], word: str) -> bool:
    return any(row[f] is not None and word in row[f].lower() for f in fields)


# -- 1. search --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "fields", "word"),
    [
        ('search(*, "saint")', TEXT_FIELDS, "saint"),
        ("search(*, 'PARIS')", TEXT_FIELDS, "paris"),
        ('search(city, "saint")', ["city"], "saint"),
        ('search(name, `desc`, "it")', ["name", "desc"], "it"),
        ('search(`desc`, city, "lyon")', ["desc", "city"], "lyon"),
        ('"sain*"', TEXT_FIELDS, "sain"),  # the reference's trailing wildcard
        ('search(city, "mars*")', ["city"], "mars"),
        ('suggest(city, "mars")', ["city"], "mars"),  # the reference's suggest(): a term's beginning
        ('suggest("sain")', TEXT_FIELDS, "sain"),
    ],
)
def test_search_forms_match_the_words_in_the_named_fields(
    wh: Warehouse, where: str, fields: list[str], word: str
) -> None:
    expected = source_names(lambda r: has(r, fields, word))
    assert expected, "the scenario must match something"
    assert run_names(wh, where) == expected


def test_search_star_shares_the_bare_text_search() -> None:
    schema = SCHEMA
    from datawharf.odsql import QueryRequest, compile_query

    def sql(where: str) -> str:
        return compile_query(QueryRequest(where=where), schema, source_sql="src").sql

    assert sql('search(*, "a b")') == sql('"a b"') == sql('search("a b")')
    assert sql('"*"') == sql('search(*, "*")') and "TRUE" in sql('"*"')


# -- 2. field:value ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "predicate"),
    [
        ("city:'paris'", lambda r: r["city"] == "paris"),
        ('city:"saint denis"', lambda r: r["city"] == "saint denis"),
        ("city:lyon", lambda r: r["city"] == "lyon"),
        ("year:2024", lambda r: r["year"] == 2024),
        ("year: 2023 or city:cork", lambda r: r["year"] == 2023 or r["city"] == "cork"),
        ("year:[2011 TO 2024]", lambda r: r["year"] is not None and 2011 <= r["year"] <= 2024),
        ("year:[2010..2023[", lambda r: r["year"] is not None and 2010 <= r["year"] < 2023),
        ("not city:paris and year:2024", lambda r: r["city"] != "paris" and r["year"] == 2024),
        ("founded:1950", lambda r: r["founded"] is not None and r["founded"][0] == 1950),
        ("founded:'1950/06'", lambda r: r["founded"] is not None and r["founded"][:2] == (1950, 6)),
        ("founded:2000-03-01", lambda r: r["founded_date"] == dt.date(2000, 3, 1)),
        (
            "founded:1950/12 or founded:'2000'",
            lambda r: r["founded"] is not None and r["founded"][:2] in ((1950, 12), (2000, 3)),
        ),
        ("population:2100000", lambda r: r["population"] == 2_100_000),
        ("updated:2024/05", lambda r: r["updated"] is not None and r["updated"][:2] == (2024, 5)),
    ],
)
def test_field_colon_value(wh: Warehouse, where: str, predicate: Any) -> None:
    assert run_names(wh, where) == source_names(lambda r: predicate(as_tuples(r)))


def as_tuples(row: dict[str, Any]) -> dict[str, Any]:
    """Dates and datetimes as (year, month, ...) tuples, so a predicate can slice them."""
    return {k: v.timetuple()[:6] if isinstance(v, dt.date) else v for k, v in row.items()} | {
        "founded_date": row["founded"]
    }


def test_a_datetime_period_follows_the_timezone(wh: Warehouse) -> None:
    # Paris's record was updated 2024-12-31 23:30 UTC: in Paris, January 2025
    assert "Paris" not in run_names(wh, "updated:2025", timezone="UTC")
    assert "Paris" in run_names(wh, "updated:2025", timezone="Europe/Paris")


@pytest.mark.parametrize("text", ["city:'paris'", "year:2024", "founded:'2024/05'", "city:Saint"])
def test_field_match_renders_back_to_the_same_tree(text: str) -> None:
    tree = parse_expression(text)
    assert parse_expression(to_odsql(tree)) == tree


# -- 3. ranges ---------------------------------------------------------------------------------------------
Y1950, Y2000 = dt.date(1950, 1, 1), dt.date(2000, 1, 1)
MAY_2024, END_2024 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 12, 31, tzinfo=dt.UTC)


def in_range(value: Any, low: Any, high: Any, li: bool = True, hi: bool = True) -> bool:
    if value is None:
        return False
    return (low <= value if li else low < value) and (value <= high if hi else value < high)


@pytest.mark.parametrize(
    ("where", "predicate"),
    [
        ("population in [110000..870000]", lambda r: in_range(r["population"], 110_000, 870_000)),
        ("population in ]110000..870000[", lambda r: in_range(r["population"], 110_000, 870_000, 0, 0)),
        ("population IN [110000 TO 870000[", lambda r: in_range(r["population"], 110_000, 870_000, hi=False)),
        ("area in ]1.5..47.9]", lambda r: in_range(r["area"], 1.5, 47.9, li=False)),
        ("area in [-1..12.4]", lambda r: in_range(r["area"], -1, 12.4)),
        (
            "founded in [date'1950-06-15'..date'2000-03-01']",
            lambda r: in_range(r["founded"], dt.date(1950, 6, 15), dt.date(2000, 3, 1)),
        ),
        ("founded in ['1950'..'2000'[", lambda r: in_range(r["founded"], Y1950, Y2000, hi=False)),
        (
            "updated in [date'2024-05-01'..date'2024-12-31']",
            lambda r: in_range(r["updated"], MAY_2024, END_2024),
        ),
        ("founded:[1950 TO 2000]", lambda r: in_range(r["founded"], Y1950, Y2000)),
    ],
)  # fmt: skip
def test_ranges_are_inclusive_unless_the_bracket_is_reversed(
    wh: Warehouse, where: str, predicate: Any
) -> None:
    expected = source_names(predicate)
    assert expected
    assert run_names(wh, where) == expected


@pytest.mark.parametrize(
    "text",
    [
        "population in [1..10]",
        "population in ]1..10[",
        "area in [1.5..2.5[",
        "founded in ]date'2020'..date'2021']",
    ],
)
def test_ranges_render_back_to_the_same_tree(text: str) -> None:
    tree = parse_expression(text)
    assert parse_expression(to_odsql(tree)) == tree


# -- 4. group_by naming a select alias ---------------------------------------------------------------------
def test_group_by_a_select_alias(wh: Warehouse) -> None:
    rows = wh.run(select="count(*) as n, year(founded) as y", group_by="y", order_by="y")
    years = [r["founded"].year if r["founded"] else None for r in ROWS]
    counts = {y: years.count(y) for y in years}
    assert rows == [(counts[y], y) for y in sorted(counts, key=lambda y: (y is None, y or 0))]
    assert wh.total(select="count(*) as n, year(founded) as y", group_by="y") == len(counts)
    # a field of that name wins over an alias: group_by=year is the field, not year(founded)
    with pytest.raises(ODSQLError) as caught:
        wh.compile(select="count(*) as n, year(founded) as year", group_by="year")
    assert caught.value.error_code == "odsql_not_grouped"


# -- 5. now() ---------------------------------------------------------------------------------------------
def test_now_with_offsets_in_where_and_select(wh: Warehouse) -> None:
    before = dt.datetime.now(dt.UTC)
    (row,) = wh.run(
        select="now() as t, now(years=-1) as y, now(year=2001, month=3, day=31, months=-1) as s", limit=1
    )
    after = dt.datetime.now(dt.UTC)
    assert before <= row[0] <= after
    assert row[1].year == row[0].year - 1
    assert (row[2].year, row[2].month, row[2].day) == (2001, 2, 28)  # day 31 clamped, as documented
    everything = source_names(lambda r: r["updated"] is not None)
    assert run_names(wh, "updated < now()") == everything
    assert run_names(wh, "updated >= now(days=-7)") == []
    since = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.UTC)
    assert run_names(
        wh, "updated >= now(year=2024, month=5, day=1, hour=6, minute=0, second=0)"
    ) == source_names(lambda r: r["updated"] is not None and r["updated"] >= since)
    # a date field compares with the date of now() in the request's timezone
    assert run_names(wh, "founded <= now(year=1950, month=12, day=31)") == source_names(
        lambda r: r["founded"] is not None and r["founded"] <= dt.date(1950, 12, 31)
    )


def test_now_reads_the_timezone_and_weekdays(wh: Warehouse) -> None:
    (row,) = wh.run(
        select="now(hour=0, minute=0, second=0, microsecond=0) as midnight", timezone="Asia/Tokyo", limit=1
    )
    local = row[0].astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    (row,) = wh.run(select="now(mondays=+1) as m, now(weekday=6) as s, now(sundays=-1) as p", limit=1)
    assert row[0].weekday() == 0 and row[1].weekday() == 6 and row[2].weekday() == 6
    assert row[2] <= row[1]


# -- 6. include / exclude ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("include(name)", ["name"]),
        ("include(*a*)", [f for f in SCHEMA if "a" in f]),
        ("include(c*), population", [f for f in SCHEMA if f.startswith("c")] + ["population"]),
        ("exclude(shape)", [f for f in SCHEMA if f != "shape"]),
        ("exclude(*e*, location)", [f for f in SCHEMA if "e" not in f and f != "location"]),
        ("name, city, exclude(c*)", ["name"]),
        ("include(`desc`, year)", ["desc", "year"]),
    ],
)
def test_include_and_exclude_select_fields_by_name(wh: Warehouse, select: str, expected: list[str]) -> None:
    compiled = wh.compile(select=select, limit=1)
    assert [c.name for c in compiled.columns] == expected
    assert len(wh.run(select=select, limit=1)[0]) == len(expected)


def test_include_patterns_render_back() -> None:
    items = parse_select("include(pop*, name), exclude(*_2024)")
    assert parse_select(", ".join(to_odsql(i.expr) for i in items)) == items


# -- 7. median, percentile, envelope ----------------------------------------------------------------------
def test_median_and_percentile(wh: Warehouse) -> None:
    populations = sorted(r["population"] for r in ROWS if r["population"] is not None)
    (row,) = wh.run(select="median(population), percentile(population, 25) as p25, percentile(area, 100)")
    assert row[0] == pytest.approx(statistics.median(populations))
    assert row[1] == pytest.approx(statistics.quantiles(populations, n=4, method="inclusive")[0])
    assert row[2] == max(r["area"] for r in ROWS)
    rows = wh.run(
        select="year, median(area) as m", group_by="year", where="year is not null", order_by="year"
    )
    for year, median in rows:
        assert median == pytest.approx(statistics.median(r["area"] for r in ROWS if r["year"] == year))


def test_envelope_is_the_convex_hull_of_the_points(wh: Warehouse) -> None:
    (row,) = wh.run(select="envelope(location) as hull")
    hull = shapely.from_geojson(row[0])
    points = [(r["location"]["lon"], r["location"]["lat"]) for r in ROWS if r["location"]]
    assert hull.equals(shapely.MultiPoint(points).convex_hull)
    assert json.loads(row[0])["type"] == "Polygon"


# -- 8. geo -------------------------------------------------------------------------------------------------
FRANCE_NORTH = "POLYGON((2 48, 3 48, 3 49.5, 2 49.5, 2 48))"  # Paris and Saint-Denis, not Lyon
NORTH = FRANCE_NORTH
NEAR_PARIS = {"Paris", "Saint-Denis"}
PARIS_SQUARE = (
    '{"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}'
)


def point_in(row: dict[str, Any], polygon: str) -> bool:
    loc = row["location"]
    return loc is not None and shapely.from_wkt(polygon).contains(shapely.Point(loc["lon"], loc["lat"]))


@pytest.mark.parametrize(
    ("where", "predicate"),
    [
        (f"within(location, geom'{FRANCE_NORTH}')", lambda r: point_in(r, FRANCE_NORTH)),
        (f"intersects(location, geometry'{FRANCE_NORTH}')", lambda r: point_in(r, FRANCE_NORTH)),
        (f"disjoint(location, geom'{FRANCE_NORTH}')", lambda r: r["location"] and not point_in(r, NORTH)),
        (f"polygon(location, geom'{FRANCE_NORTH}')", lambda r: point_in(r, FRANCE_NORTH)),
        (f"geometry(location, geom'{FRANCE_NORTH}', WITHIN)", lambda r: point_in(r, FRANCE_NORTH)),
        (f"within(location, geom'{PARIS_SQUARE}')", lambda r: r["name"] == "Paris"),
        (f"intersects(shape, geom'{PARIS_SQUARE}')", lambda r: r["shape"] is not None),
        ("within(shape, geom'POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))')", lambda r: False),
        ("disjoint(shape, geom'POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))')", lambda r: r["shape"] is not None),
        ("within_distance(shape, geom'POINT(2.36 48.85)', 1km)", lambda r: r["shape"] is not None),
        ("within_distance(shape, geom'POINT(2.36 48.85)', 500m)", lambda r: False),  # 733 m away
        ("distance(location, geom'POINT(2.35 48.85)', 11km)", lambda r: r["name"] in NEAR_PARIS),
        ("in_bbox(shape, 48, 2, 49, 3)", lambda r: r["shape"] is not None),
    ],
)  # fmt: skip
def test_geo_predicates(wh: Warehouse, where: str, predicate: Any) -> None:
    assert run_names(wh, where) == source_names(predicate)


def test_within_on_points_against_a_concave_polygon_with_a_hole(wh: Warehouse) -> None:
    # a U around Paris's longitude whose notch holds Saint-Denis; a hole where Paris is
    polygon = (
        "POLYGON((2 48, 2.7 48, 2.7 49.2, 2.5 49.2, 2.5 48.9, 2.2 48.9, 2.2 49.2, 2 49.2, 2 48),"
        "(2.34 48.84, 2.36 48.84, 2.36 48.86, 2.34 48.86, 2.34 48.84))"
    )
    assert (
        run_names(wh, f"within(location, geom'{polygon}')")
        == source_names(lambda r: point_in(r, polygon))
        == []
    )
    assert run_names(wh, f"not within(location, geom'{polygon}') and city:paris") == ["Paris"]


@pytest.mark.parametrize(
    "literal",
    ["POLYGON((0 0, 1 0))", "POLYGON((0 0, 200 0, 1 1, 0 0))", '{"type": "Polygon"}', "CIRCLE(1 1)", ""],
)
def test_bad_geometries_are_refused(wh: Warehouse, literal: str) -> None:
    with pytest.raises(ODSQLError) as caught:
        wh.compile(where=f"within(location, geom'{literal}')")
    assert caught.value.error_code == "odsql_invalid_geometry"


# -- 9. unsupported functions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_", "function"),
    [
        (dict(group_by="geo_cluster(location)"), "geo_cluster"),
        (dict(select="convex_hull(location)"), "convex_hull"),
        (dict(where="dayofweek(founded) = 1"), "dayofweek"),
        (dict(group_by="range(population, ]10, 50, 100[)"), "range"),
        (dict(group_by="range(founded, [date'2020'])"), "range"),
    ],
)
def test_known_but_unsupported_functions_say_so(
    wh: Warehouse, request_: dict[str, str], function: str
) -> None:
    with pytest.raises(ODSQLError) as caught:
        wh.compile(**request_)
    assert caught.value.error_code == "odsql_unsupported_function"
    assert caught.value.detail["function"] == function
    assert "use" in caught.value.message


# -- 10. like with the reference's wildcard, length, quarter ---------------------------------------------
def test_like_star_and_small_scalars(wh: Warehouse) -> None:
    assert run_names(wh, 'name like "sai*"') == source_names(
        lambda r: (r["name"] or "").lower().startswith("sai")
    )
    assert run_names(wh, 'name like "*i*"') == source_names(lambda r: "i" in (r["name"] or "").lower())
    assert run_names(wh, "length(city) = 5") == source_names(lambda r: len(r["city"]) == 5)
    assert run_names(wh, "quarter(founded) = 2") == source_names(
        lambda r: r["founded"] is not None and r["founded"].month in (4, 5, 6)
    )


# -- range(date, interval): date histograms -----------------------------------------------------------------
def test_date_histograms(wh: Warehouse) -> None:
    rows = wh.run(select="d, count(*) as n", group_by="range(updated, 1 day) as d", order_by="d")
    days = [r["updated"].date() for r in ROWS if r["updated"] is not None]
    expected = [(dt.datetime.combine(d, dt.time(), dt.UTC), days.count(d)) for d in sorted(set(days))]
    assert rows == [*expected, (None, 1)]
    # in Paris, the 2024-12-31 23:30 UTC update is on 2025-01-01, whose midnight is 23:00 UTC
    paris = wh.run(select="d", group_by="range(updated, 1d) as d", order_by="d desc", timezone="Europe/Paris")
    assert paris[0] == (dt.datetime(2024, 12, 31, 23, 0, tzinfo=dt.UTC),)
    months = wh.run(select="m, count(*)", group_by="range(founded, 1 month) as m",
                    where="founded is not null", order_by="m")  # fmt: skip
    firsts = [r["founded"].replace(day=1) for r in ROWS if r["founded"] is not None]
    assert months == [(m, firsts.count(m)) for m in sorted(set(firsts))]
    hours = wh.run(select="h", group_by="range(updated, 6h) as h", where="updated is not null", order_by="h")
    assert all(h.hour % 6 == 0 and h.minute == 0 for (h,) in hours)
    years = wh.run(group_by="range(founded, 1y) as y", where="founded is not null", order_by="y")
    assert years == [(dt.date(y, 1, 1),) for y in sorted({r["founded"].year for r in ROWS if r["founded"]})]


@pytest.mark.parametrize(
    "group_by",
    ["range(updated, 2 months)", "range(founded, 1h)", "range(updated, 1.5 days)", "range(updated, 10km)",
     "range(name, 1 day)"],
)  # fmt: skip
def test_bad_date_histograms_are_refused(wh: Warehouse, group_by: str) -> None:
    with pytest.raises(ODSQLError) as caught:
        wh.compile(group_by=group_by)
    assert caught.value.error_code == "odsql_invalid_argument"
