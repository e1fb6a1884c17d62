"""Hostile and oversized input: each a clean ODSQLError (400) raised before anything runs, or, where the
text is a legal string value, SQL in which that text appears only as a bound parameter."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from datawharf.errors import InvalidInput, ODSQLError
from datawharf.odsql import QueryRequest, compile_query
from tests.unit.test_odsql_execution import SCHEMA, Warehouse, write_parquet

SOURCE = "read_parquet('cities.parquet')"


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return Warehouse(write_parquet(tmp_path_factory.mktemp("odsql_bad") / "cities.parquet"))


def refused(mode: str = "records", **request: Any) -> ODSQLError:
    with pytest.raises(ODSQLError) as err:
        compile_query(QueryRequest(**request), SCHEMA, source_sql=SOURCE, mode=mode)  # type: ignore[arg-type]
    assert isinstance(err.value, InvalidInput) and err.value.http_status == 400
    return err.value


REFUSED: list[tuple[dict[str, Any], str]] = [
    (dict(where="'; DROP TABLE sentinel; --"), "odsql_syntax_error"),
    (dict(where="name = ''; DROP TABLE sentinel; --'"), "odsql_syntax_error"),
    (dict(where="1=1) or (1=1"), "odsql_syntax_error"),
    (dict(where="name = 'x') or (1=1"), "odsql_syntax_error"),
    (dict(where="name = 1; DROP TABLE sentinel"), "odsql_syntax_error"),
    (dict(where="name = 'a' -- comment"), "odsql_type_mismatch"),  # 'a' - (-comment): not numbers
    (dict(where="name = 'a' /* x */"), "odsql_syntax_error"),
    (dict(where="`name` = 'x' or `na`me` = 1"), "odsql_syntax_error"),
    (dict(where='`name"; DROP TABLE sentinel; --` = 1'), "unknown_field"),
    (dict(where="`name`` = 1"), "odsql_syntax_error"),
    (dict(where='"name" = "x'), "odsql_syntax_error"),
    (dict(select='name as "x"; DROP TABLE sentinel'), "odsql_syntax_error"),
    (dict(select="name from sentinel"), "odsql_syntax_error"),
    (dict(select="* from sentinel --"), "odsql_syntax_error"),
    (dict(select="answer"), "unknown_field"),
    (dict(select="`\u0000name`"), "odsql_syntax_error"),
    (dict(where="name = \u2018x\u2019"), "odsql_syntax_error"),
    (dict(where="name = 'x' \\u0027 or 1=1"), "odsql_syntax_error"),
    (dict(where="nаme = 'x'"), "unknown_field"),  # a Cyrillic "а": not the field "name"
    (dict(order_by="name; DROP TABLE sentinel"), "odsql_syntax_error"),
    (dict(order_by="(select 1)"), "odsql_syntax_error"),
    (dict(group_by="name union select answer from sentinel"), "odsql_syntax_error"),
    (dict(where="read_parquet('/etc/passwd') is null"), "unknown_function"),
    (dict(where="population in [1..2"), "odsql_syntax_error"),
    (dict(where="population in [1 2]"), "odsql_syntax_error"),
    (dict(where="population in [1..2) or 1=1"), "odsql_syntax_error"),
    (dict(where="population not in [1..2]"), "odsql_syntax_error"),
    (dict(where="city:"), "odsql_syntax_error"),
    (dict(where="city:'x'; DROP TABLE sentinel"), "odsql_syntax_error"),
    (dict(where="city:x') or ('1"), "odsql_syntax_error"),
    (dict(select="include(pop*"), "odsql_syntax_error"),
    (dict(select="include()"), "odsql_syntax_error"),
    (dict(select="include(pop * )"), "odsql_syntax_error"),
    (dict(select="exclude('name')"), "odsql_syntax_error"),
    (dict(where="within(location, geom'POLYGON((0 0, 1 0, 1 1, 0 0))'); DROP TABLE x"), "odsql_syntax_error"),
    (dict(where="within(location, geom'POLYGON((0 0, 1 0, 1 1, 0 0)); DROP x')"), "odsql_invalid_geometry"),
    (dict(where="polygon(shape, geom'POLYGON((0 0, 1 0, 1 1, 0 0))')"), "odsql_invalid_argument"),
    (dict(where="search(*, 1)"), "odsql_invalid_argument"),
    (dict(where="search()"), "odsql_invalid_argument"),
    (dict(where="search(*, *, 'x')"), "odsql_syntax_error"),
    (dict(select="current_setting('TimeZone')"), "unknown_function"),
    (dict(refine=["name'; DROP TABLE sentinel --:x"]), "unknown_field"),
    (dict(refine=["nocolon"]), "invalid_refine"),
    (dict(refine=["population:abc"]), "odsql_type_mismatch"),
    (dict(refine=["location:1"]), "invalid_refine"),
    (dict(refine=["founded:1950/13"]), "invalid_refine"),
    (dict(timezone="Europe/Paris'; DROP TABLE sentinel; --"), "invalid_timezone"),
    (dict(timezone="../../../etc/passwd"), "invalid_timezone"),
    (dict(timezone=""), "invalid_timezone"),
    (dict(limit=1_000_000), "invalid_limit"),
    (dict(limit=101), "invalid_limit"),
    (dict(limit=-1), "invalid_limit"),
    (dict(offset=99_999), "invalid_offset"),
    (dict(offset=9_995, limit=10), "invalid_offset"),
    (dict(offset=-1), "invalid_offset"),
    (dict(mode="exports", limit=-2), "invalid_limit"),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "code"), REFUSED)
def test_refused_with_a_400(wh: Warehouse, request_: dict[str, Any], code: str) -> None:
    err = refused(**request_)
    assert err.error_code == code
    assert err.message and "Traceback" not in err.message
    assert wh.sentinel_intact()


def test_syntax_error_names_position_and_token() -> None:
    err = refused(select="name, city frm")
    assert err.message.startswith('ODSQL syntax error at 11: unexpected "frm"')
    assert err.detail == {"position": 11, "token": "frm", "clause": "select"}
    err = refused(where="1=1) or (1=1")
    assert err.detail["position"] == 3 and err.detail["token"] == ")"


def test_unknown_field_lists_the_available_fields() -> None:
    err = refused(where="populaton > 3")
    assert err.error_code == "unknown_field"
    assert err.detail["available_fields"] == list(SCHEMA)
    assert 'did you mean "population"' in err.message
    assert "name, city, population" in err.message


INJECTED_VALUES = [
    "'; DROP TABLE sentinel; --",
    "x' OR '1'='1",
    "\\u0027; DROP TABLE sentinel; --",
    '"); DROP TABLE sentinel; --',
    "1=1) or (1=1",
    "`name`",
    "$1",
    "Robert'); DROP TABLE sentinel;--",
]


@pytest.mark.parametrize("value", INJECTED_VALUES)
def test_string_values_only_ever_reach_duckdb_as_parameters(wh: Warehouse, value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    for request in (
        dict(where=f"name = '{escaped}'"),
        dict(where=f"search('{escaped}')"),
        dict(where=f"name like '{escaped}' or startswith(city, '{escaped}')"),
        dict(select=f"lower('{escaped}') as v"),
        dict(refine=[f"name:{value}"]),
        dict(exclude=[f"city:{value}"]),
    ):
        compiled = wh.compile(**request)
        if "search" in str(request):  # search() binds one parameter a word
            assert all(word in compiled.params for word in value.split()), request
        else:
            assert value in compiled.params, request
        assert "DROP" not in compiled.sql and "sentinel" not in compiled.sql
        wh.con.execute(compiled.sql, compiled.params).fetchall()
        assert wh.sentinel_intact()


def test_names_are_quoted_even_when_the_schema_holds_odd_ones(tmp_path: Any) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute('CREATE TABLE t AS SELECT 1 AS "a""b", 2 AS "c d"')
    schema = {'a"b': "int", "c d": "int"}
    compiled = compile_query(QueryRequest(select='`a"b`, `c d`', where='`a"b` = 1'), schema, source_sql="t")
    assert con.execute(compiled.sql, compiled.params).fetchall() == [(1, 2)]


def test_one_megabyte_where_is_refused_fast() -> None:
    started = time.perf_counter()
    err = refused(where="name = 'x' or " * 75_000 + "name = 'y'")
    assert err.error_code == "odsql_query_too_long"
    assert time.perf_counter() - started < 1


def test_a_long_but_legal_where_compiles_and_runs(wh: Warehouse) -> None:
    where = " or ".join(f"population = {i}" for i in range(3_000)) + " or name in (" + ", ".join(
        f"'n{i}'" for i in range(500)
    ) + ")"  # fmt: skip
    started = time.perf_counter()
    compiled = wh.compile(where=where, select="name")
    assert wh.con.execute(compiled.sql, compiled.params).fetchall() == [("O'Brien's \"town\"",)]
    assert time.perf_counter() - started < 10


NESTED = [
    dict(where="(" * 10_000 + "name = 'x'" + ")" * 10_000),
    dict(where="(" * 10_000),
    dict(where="not " * 10_000 + "name = 'x'"),
    dict(where="population = " + "-" * 10_000 + "1"),
    dict(where="population = " + "1 + " * 10_000 + "1"),
    dict(where="population = " + "1 * " * 5_000 + "1"),
    dict(select="lower(" * 5_000 + "name" + ")" * 5_000),
    dict(order_by="(" * 10_000 + "name" + ")" * 10_000),
    dict(group_by="(" * 10_000 + "name" + ")" * 10_000),
    dict(where="name in (" * 3_000 + "'x'" + ")" * 3_000),
]


@pytest.mark.parametrize("request_", NESTED, ids=range(len(NESTED)))
def test_deep_nesting_is_refused_without_recursion_error(request_: dict[str, Any]) -> None:
    limit = sys.getrecursionlimit()
    err = refused(**request_)
    assert err.error_code == "odsql_too_deep"
    assert "64" in err.message
    assert sys.getrecursionlimit() == limit


def test_nesting_up_to_the_limit_is_fine(wh: Warehouse) -> None:
    rows = wh.run(select="name", where="(" * 60 + "population = 42" + ")" * 60)
    assert rows == [("O'Brien's \"town\"",)]


TYPE_ERRORS: list[tuple[dict[str, Any], str]] = [
    (dict(where="population = 'many'"), "odsql_type_mismatch"),
    (dict(where="name > 3 and founded = 'soon'"), "odsql_invalid_date"),
    (dict(where="location = 1"), "odsql_type_mismatch"),
    (dict(where="name = null"), "odsql_type_mismatch"),
    (dict(where="`population`"), "odsql_type_mismatch"),
    (dict(where="name + 1 > 2"), "odsql_type_mismatch"),
    (dict(where="null in (name, 0)"), "odsql_type_mismatch"),
    (dict(where="name in (location)"), "odsql_type_mismatch"),
    (dict(where="count(*) > 1"), "odsql_misplaced_aggregate"),
    (dict(select="sum(count(*))"), "odsql_misplaced_aggregate"),
    (dict(group_by="count(*)"), "odsql_misplaced_aggregate"),
    (dict(order_by="count(*)"), "odsql_misplaced_aggregate"),
    (dict(select="name, count(*)"), "odsql_not_grouped"),
    (dict(select="name", group_by="city"), "odsql_not_grouped"),
    (dict(select="city", group_by="city", order_by="name"), "odsql_not_grouped"),
    (dict(select="name, name"), "odsql_duplicate_column"),
    (dict(select="*, name"), "odsql_duplicate_column"),
    (dict(select="nosuch(name)"), "unknown_function"),
    (dict(select="lower(name, city)"), "odsql_invalid_argument"),
    (dict(select="sum(distinct population)"), "odsql_invalid_argument"),
    (dict(select="count(distinct *)"), "odsql_invalid_argument"),
    (dict(select="year(name)"), "odsql_invalid_argument"),
    (dict(select="date_format(founded, name)"), "odsql_invalid_argument"),
    (dict(select="date_format(founded, 'yyyy-QQ')"), "odsql_invalid_date_format"),
    (dict(select="date_format(founded, 'yyyy''')"), "odsql_invalid_date_format"),
    (dict(select="date_format(updated, 'HH:mm Z')"), "odsql_invalid_date_format"),
    (dict(select="range(population, 10)"), "odsql_invalid_argument"),
    (dict(group_by="range(population, 0)"), "odsql_invalid_argument"),
    (dict(group_by="range(population, name)"), "odsql_invalid_argument"),
    (dict(where="within_distance(name, geom'POINT(1 2)', 1km)"), "odsql_invalid_argument"),
    (dict(where="within_distance(location, geom'POINT(200 2)', 1km)"), "odsql_invalid_geometry"),
    (dict(where="within_distance(location, geom'LINESTRING(1 2, 3 4)', 1km)"), "odsql_invalid_geometry"),
    (dict(where="within_distance(location, 'POINT(1 2)', 1km)"), "odsql_invalid_argument"),
    (dict(where="within_distance(location, geom'POINT(1 2)', -1km)"), "odsql_invalid_argument"),
    (dict(where="within_distance(location, geom'POINT(1 2)', name)"), "odsql_invalid_argument"),
    (dict(where="in_bbox(location, 1, 2, 3)"), "odsql_invalid_argument"),
    (dict(where="in_bbox(location, 1, 2, 3, name)"), "odsql_invalid_argument"),
    (dict(where="in_bbox(name, 1, 2, 3, 4)"), "odsql_invalid_argument"),
    (dict(where="intersects(location, geom'POLYGON((0 0, 1 0))')"), "odsql_invalid_geometry"),
    (dict(where="within(name, geom'POLYGON((0 0, 1 0, 1 1, 0 0))')"), "odsql_invalid_argument"),
    (dict(where="within(location, 'POLYGON((0 0, 1 0, 1 1, 0 0))')"), "odsql_invalid_argument"),
    (dict(where="geometry(shape, geom'POINT(1 1)', TOUCHES)"), "odsql_invalid_argument"),
    (dict(where="now(days=1) = name"), "odsql_type_mismatch"),
    (dict(where="updated > now(fortnights=1)"), "odsql_invalid_argument"),
    (dict(where="updated > now(month=13)"), "odsql_invalid_argument"),
    (dict(where="updated > now(days=1.5)"), "odsql_invalid_argument"),
    (dict(where="updated > now(7)"), "odsql_invalid_argument"),
    (dict(select="percentile(population, 101)"), "odsql_invalid_argument"),
    (dict(select="median(name)"), "odsql_type_mismatch"),
    (dict(select="envelope(shape)"), "odsql_invalid_argument"),
    (dict(where="median(population) > 1"), "odsql_misplaced_aggregate"),
    (dict(where="population in [1..name]"), "odsql_type_mismatch"),
    (dict(where="founded in [date'2020'..name]"), "odsql_type_mismatch"),
    (dict(group_by="geo_cluster(location)"), "odsql_unsupported_function"),
    (dict(select="convex_hull(location)"), "odsql_unsupported_function"),
    (dict(group_by="include(name)"), "odsql_syntax_error"),
    (dict(where="search('   ')"), "odsql_invalid_argument"),
    (dict(where="search(1, 2, 3)"), "odsql_invalid_argument"),
    (dict(where="founded > date'2024-02-30'"), "odsql_invalid_date"),
    (dict(where="founded > date'0001-01-01T00:00:00+05:00'"), "odsql_invalid_date"),
    (dict(select="10km"), "odsql_invalid_argument"),
    (dict(select="geom'POINT(1 2)'"), "odsql_invalid_argument"),
    (dict(where="population = 99999999999999999999999"), "odsql_invalid_number"),
    (dict(where="area = 1e999"), "odsql_invalid_number"),
    (dict(where="area = 1 +"), "odsql_syntax_error"),
    (dict(where="name is 3"), "odsql_syntax_error"),
    (dict(where="name in ()"), "odsql_syntax_error"),
    (dict(where="name in 'x'"), "odsql_syntax_error"),
    (dict(where="name = 'x' name = 'y'"), "odsql_syntax_error"),
    (dict(where="#null(name)"), "odsql_syntax_error"),
    (dict(select="name as"), "odsql_syntax_error"),
    (dict(select="*", group_by="*"), "odsql_syntax_error"),
    (dict(order_by="name sideways"), "odsql_syntax_error"),
    (dict(order_by="location"), "odsql_type_mismatch"),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "code"), TYPE_ERRORS)
def test_semantic_errors(request_: dict[str, Any], code: str) -> None:
    assert refused(**request_).error_code == code


def test_alias_with_quotes_is_quoted_not_pasted(wh: Warehouse) -> None:
    alias = 'a"b; DROP TABLE sentinel; --'
    compiled = wh.compile(select=f"name as `{alias}`", where="population = 42")
    assert compiled.columns[0].name == alias
    cursor = wh.con.execute(compiled.sql, compiled.params)
    assert [d[0] for d in cursor.description] == [alias]
    assert cursor.fetchall() == [("O'Brien's \"town\"",)]
    assert wh.sentinel_intact()
