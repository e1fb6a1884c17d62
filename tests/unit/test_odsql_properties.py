"""Property-based: whatever ODSQL comes in, it either compiles to SQL that DuckDB prepares and runs on
the test table, or it is refused with an ODSQLError. Never another exception, never a hang."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datawharf.errors import ODSQLError
from datawharf.odsql import QueryRequest, compile_query, geo, parse_expression, to_odsql
from datawharf.odsql import nodes as n
from tests.unit.test_odsql_execution import SCHEMA, Warehouse, write_parquet

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = Warehouse(write_parquet(tmp_path_factory.mktemp("odsql_prop") / "cities.parquet"))
    geo.register(warehouse.con)  # the geo predicates, as every query-engine connection has them
    yield warehouse
    warehouse.con.close()


def compiles_and_runs_or_is_refused(wh: Warehouse, mode: str = "records", **request: Any) -> bool:
    """True when it ran, False when refused; anything else propagates and fails the test."""
    try:
        compiled = compile_query(QueryRequest(**request), SCHEMA, source_sql=wh.source_sql, mode=mode)  # type: ignore[arg-type]
    except ODSQLError as err:
        assert err.http_status == 400 and err.error_code and err.message
        return False
    wh.con.execute(compiled.sql, compiled.params).fetchall()
    wh.con.execute(compiled.count_sql, compiled.count_params).fetchall()
    assert wh.sentinel_intact()
    return True


# -- token soup -----------------------------------------------------------------------------------------
FIELDS = [f for f in SCHEMA if f not in ("desc",)] + ["`desc`", "`year`", "nosuch", "`x``y`"]
FRAGMENTS = [
    *FIELDS,
    "and", "or", "not", "in", "like", "is", "null", "true", "false", "as", "asc", "desc", "distinct",
    "=", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "(", ")", "(", ")", ",", ":", ";",
    "0", "1", "42", "-1", "2.5", "1e3", "1e400", "99999999999999999999", "10km", "5 m",
    "'x'", "'paris'", '"Lyon"', "''", "'%a%'", "'2024-01-01'", "'yyyy-MM'", "'dd/MM'", "'Q'",
    "date'2024-01-01'", "date'2024-05-01T10:00:00Z'", "date'nope'", "geom'POINT(2.35 48.85)'",
    "geom'POINT(999 0)'", "count(", "count(*)", "sum(", "avg(", "min(", "max(", "year(", "month(",
    "day(", "hour(", "date_format(", "lower(", "upper(", "search(", "startswith(", "within_distance(",
    "in_bbox(", "range(", "nosuch(", "`", "'", '"', "\\", "\u00e9", "\x00", "#", "[", "]",
    "..", "TO", "*", "now(", "days=-1", "year=2024", "weekday=9", "include(", "exclude(", "pop*", "median(",
    "percentile(", "envelope(", "within(", "intersects(", "disjoint(", "geometry(", "polygon(", "length(",
    "geo_cluster(", "location", "shape", "geom'POLYGON((2 48, 3 48, 3 49, 2 48))'", "geom'{\"type\": 1}'",
    "geom'LINESTRING(0 0, 1 1)'", "INTERSECTS", "'film*'", "quarter(",
]  # fmt: skip
soup = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14).map(" ".join)
ZONES = ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns", "Mars/Olympus"]


@PROPERTY_SETTINGS
@given(where=soup)
def test_random_where(wh: Warehouse, where: str) -> None:
    compiles_and_runs_or_is_refused(wh, where=where)


@PROPERTY_SETTINGS
@given(select=soup, group_by=st.one_of(st.none(), soup), order_by=st.one_of(st.none(), soup))
def test_random_select_group_order(
    wh: Warehouse, select: str, group_by: str | None, order_by: str | None
) -> None:
    compiles_and_runs_or_is_refused(wh, select=select, group_by=group_by, order_by=order_by)


@PROPERTY_SETTINGS
@given(
    where=st.text(max_size=40),
    select=st.one_of(st.none(), st.text(max_size=20)),
    refine=st.lists(st.text(max_size=20), max_size=2),
    exclude=st.lists(st.sampled_from(FIELDS).flatmap(lambda f: st.text(max_size=8).map(lambda v: f"{f}:{v}")),
                     max_size=2),
    timezone=st.sampled_from(ZONES),
    limit=st.one_of(st.none(), st.integers(-3, 200)),
    offset=st.integers(-2, 20_000),
    mode=st.sampled_from(["records", "exports"]),
)  # fmt: skip
def test_random_text_everywhere(wh: Warehouse, **request: Any) -> None:
    compiles_and_runs_or_is_refused(wh, **request)


# -- random trees, rendered to text ---------------------------------------------------------------------
names = st.sampled_from([*SCHEMA, "nosuch"]).map(n.Field)
literals = st.one_of(
    st.integers(0, 2**70).map(n.Literal),
    st.floats(0, 1e300, allow_nan=False).map(n.Literal),
    st.text(max_size=8).map(n.Literal),
    st.sampled_from([True, False, None]).map(n.Literal),
    st.sampled_from(["2024-01-01", "2024", "2024-05-01T10:00:00+02:00", "x"]).map(
        lambda t: n.TypedLiteral("date", t)
    ),
)
FUNCTION_NAMES = ["count", "sum", "avg", "min", "max", "year", "month", "day", "date_format", "lower",
                  "upper", "search", "startswith", "range", "nosuch", "now", "median", "percentile",
                  "envelope", "within", "intersects", "disjoint", "length", "quarter",
                  "geo_cluster"]  # fmt: skip


def extend(children: st.SearchStrategy[n.Node]) -> st.SearchStrategy[n.Node]:
    pair = st.tuples(children, children)
    return st.one_of(
        children.map(n.Neg),
        children.map(n.Not),
        st.tuples(st.sampled_from(n.ARITH_OPS), children, children).map(lambda t: n.Arith(*t)),
        st.tuples(st.sampled_from(n.COMPARE_OPS), children, children).map(lambda t: n.Compare(*t)),
        st.lists(children, min_size=2, max_size=3).map(lambda items: n.And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: n.Or(tuple(items))),
        st.tuples(children, st.lists(children, min_size=1, max_size=3), st.booleans()).map(
            lambda t: n.In(t[0], tuple(t[1]), t[2])
        ),
        st.tuples(children, children, st.booleans()).map(lambda t: n.Like(*t)),
        st.tuples(children, children, children, st.booleans(), st.booleans()).map(lambda t: n.Range(*t)),
        children.map(
            lambda c: n.Call("within", (c, n.TypedLiteral("geom", "POLYGON((2 48, 3 48, 3 49, 2 48))")))
        ),
        st.tuples(children, st.booleans()).map(lambda t: n.IsNull(*t)),
        st.tuples(st.sampled_from(FUNCTION_NAMES), st.lists(children, max_size=2), st.booleans()).map(
            lambda t: n.Call(t[0], tuple(t[1]), t[2] and t[0] == "count")
        ),
        pair.map(
            lambda p: n.Call(
                "within_distance", (p[0], n.TypedLiteral("geom", "POINT(2.35 48.85)"), n.Distance(15.0, "km"))
            )
        ),
    )


trees = st.recursive(st.one_of(names, literals), extend, max_leaves=12)


@PROPERTY_SETTINGS
@given(tree=trees)
def test_random_tree_round_trips_through_text(tree: n.Node) -> None:
    text = to_odsql(tree)
    assert parse_expression(text) == tree


@PROPERTY_SETTINGS
@given(tree=trees, timezone=st.sampled_from(ZONES[:-1]))
def test_random_tree_compiles_and_runs_or_is_refused(wh: Warehouse, tree: n.Node, timezone: str) -> None:
    text = to_odsql(tree)
    compiles_and_runs_or_is_refused(wh, where=text, timezone=timezone)
    compiles_and_runs_or_is_refused(wh, select=f"{text} as v", timezone=timezone)
    compiles_and_runs_or_is_refused(wh, select=f"{text} as v, count(*)", group_by=f"{text} as v")
    compiles_and_runs_or_is_refused(wh, order_by=text)


def test_a_good_share_of_random_trees_actually_run(wh: Warehouse) -> None:
    """Guard against a generator so strict the properties above pass by refusing everything."""
    ran = [
        compiles_and_runs_or_is_refused(wh, where=w)
        for w in ["population > 1", "search('a') and not name is null", "year(founded) = 1950",
                  "area * 2 + 1 < population", "lower(name) like '%a%'"]
    ]  # fmt: skip
    assert all(ran)


# -- well-typed random trees: these must all compile and run --------------------------------------------
def field(name: str) -> st.SearchStrategy[n.Node]:
    return st.just(n.Field(name))


def signed(i: int) -> n.Node:
    return n.Literal(i) if i >= 0 else n.Neg(n.Literal(-i))


small_ints = st.integers(0, 2**40).map(n.Literal)
small_floats = st.floats(0, 1e6, allow_nan=False).map(n.Literal)
texts = st.text(max_size=6).map(n.Literal)
dates = st.dates().map(lambda d: n.TypedLiteral("date", d.isoformat()))
PATTERNS = ["yyyy", "yyyy-MM", "dd/MM/yyyy", "EEEE", "HH:mm", "'T'D"]

numbers: st.SearchStrategy[n.Node] = st.deferred(
    lambda: st.one_of(
        field("population"), field("year"), field("area"), small_ints, small_floats,
        st.sampled_from(["year", "month", "day"]).flatmap(
            lambda f: st.sampled_from(["founded", "updated"]).map(lambda d: n.Call(f, (n.Field(d),)))
        ),
        numbers.map(n.Neg),
        st.tuples(st.sampled_from(n.ARITH_OPS), numbers, numbers).map(lambda t: n.Arith(*t)),
    )
)  # fmt: skip
strings: st.SearchStrategy[n.Node] = st.deferred(
    lambda: st.one_of(
        field("name"), field("city"), field("desc"), texts,
        st.tuples(st.sampled_from(["lower", "upper"]), strings).map(lambda t: n.Call(t[0], (t[1],))),
        st.tuples(st.sampled_from(["founded", "updated"]), st.sampled_from(PATTERNS)).map(
            lambda t: n.Call("date_format", (n.Field(t[0]), n.Literal(t[1])))
        ),
    )
)  # fmt: skip
temporals = st.one_of(field("founded"), field("updated"), dates)
words = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=6)
conditions: st.SearchStrategy[n.Node] = st.deferred(
    lambda: st.one_of(
        st.tuples(st.sampled_from(n.COMPARE_OPS), numbers, numbers).map(lambda t: n.Compare(*t)),
        st.tuples(st.sampled_from(n.COMPARE_OPS), strings, strings).map(lambda t: n.Compare(*t)),
        st.tuples(st.sampled_from(n.COMPARE_OPS), temporals, temporals).map(lambda t: n.Compare(*t)),
        st.tuples(numbers, st.lists(numbers, min_size=1, max_size=3), st.booleans()).map(
            lambda t: n.In(t[0], tuple(t[1]), t[2])
        ),
        st.tuples(strings, strings, st.booleans()).map(lambda t: n.Like(*t)),
        st.tuples(st.one_of(numbers, strings, temporals, field("location")), st.booleans()).map(
            lambda t: n.IsNull(*t)
        ),
        words.map(lambda w: n.Call("search", (n.Literal(w),))),
        words.map(n.Literal),
        st.tuples(strings, words).map(lambda t: n.Call("search", (t[0], n.Literal(t[1])))),
        st.tuples(strings, strings).map(lambda t: n.Call("startswith", t)),
        st.tuples(st.floats(-180, 180), st.floats(-90, 90), st.floats(0, 1e7)).map(
            lambda t: n.Call("within_distance", (n.Field("location"),
                             n.TypedLiteral("geom", f"POINT({t[0]!r} {t[1]!r})"), n.Distance(t[2], "m")))
        ),
        st.lists(st.integers(-90, 90).map(signed), min_size=4, max_size=4).map(
            lambda xs: n.Call("in_bbox", (n.Field("location"), *xs))
        ),
        conditions.map(n.Not),
        st.lists(conditions, min_size=2, max_size=3).map(lambda items: n.And(tuple(items))),
        st.lists(conditions, min_size=2, max_size=3).map(lambda items: n.Or(tuple(items))),
    )
)  # fmt: skip
AGGREGATES = st.one_of(
    st.just("count(*)"),
    st.sampled_from(["population", "area"]).map(lambda f: f"sum({f}), avg({f})"),
    st.sampled_from(["name", "founded", "updated", "area"]).map(
        lambda f: f"min({f}), max({f}), count(distinct {f})"
    ),
)  # fmt: skip


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    where=conditions,
    value=st.one_of(numbers, strings, temporals),
    key=st.one_of(numbers, strings),
    aggregate=AGGREGATES,
    timezone=st.sampled_from(ZONES[:-1]),
)
def test_well_typed_trees_always_compile_and_run(
    wh: Warehouse, where: n.Node, value: n.Node, key: n.Node, aggregate: str, timezone: str
) -> None:
    where_text, value_text, key_text = to_odsql(where), to_odsql(value), to_odsql(key)
    assert parse_expression(where_text) == where
    for request in (
        dict(where=where_text, select=f"{value_text} as v", order_by=f"{key_text} desc"),
        dict(where=where_text, select=f"{key_text} as k, {aggregate}", group_by=f"{key_text} as k",
             order_by="k"),
        dict(select=aggregate, where=where_text),
    ):  # fmt: skip
        assert compiles_and_runs_or_is_refused(wh, timezone=timezone, **request), request
