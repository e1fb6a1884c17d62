"""The ODSQL cost budget: full-text amplification, long chains and lists, many clauses are refused with
``query_too_complex`` before any SQL is written, and what fits compiles to SQL of bounded size."""

from __future__ import annotations

from typing import Any

import pytest

from datawharf.errors import ODSQLError
from datawharf.explore.catalog import CATALOG_FIELDS
from datawharf.odsql import QueryRequest, compile_query
from datawharf.odsql.budget import MAX_COST, SEARCH_PAIR_COST, TEXT_CHARS_PER_UNIT, Budget

SCHEMA = {"id": "int", "name": "text", "city": "text", "value": "double"}
WIDE = {f"t{i}": "text" for i in range(1000)}


def compile_(schema: dict[str, str] = SCHEMA, **request: Any) -> Any:
    return compile_query(QueryRequest(**request), schema, source_sql="src")


def refused(schema: dict[str, str] = SCHEMA, **request: Any) -> ODSQLError:
    with pytest.raises(ODSQLError) as caught:
        compile_(schema, **request)
    assert caught.value.error_code == "query_too_complex", caught.value.message
    assert caught.value.http_status == 400
    return caught.value


def test_the_20000_word_catalog_search_is_refused_naming_the_search() -> None:
    error = refused(CATALOG_FIELDS, where='"' + " ".join(["a"] * 20_000) + '"')
    text_fields = sum(1 for t in CATALOG_FIELDS.values() if t == "text")
    assert error.detail["part"] == "search" and error.detail["clause"] == "where"
    assert error.detail["cost"] >= 20_000 * text_fields * SEARCH_PAIR_COST
    assert error.detail["limit"] == MAX_COST
    assert f"{20_000 * text_fields:,} word × text field matches" in error.message
    assert "search fewer words, or search one field" in error.message


def test_words_times_fields_is_what_a_search_costs() -> None:
    # 1,000 text fields: one word is 1,000 matches (4,000), two fit, three do not
    assert "contains(" in compile_(WIDE, where='"one two"').sql
    refused(WIDE, where='"one two three"')
    # the same three words in one field are 3 matches
    compile_(WIDE, where='search(t1, "one two three")')
    refused(WIDE, select="t0", where=" or ".join(['"x"'] * 3))


def test_repeated_words_are_charged_every_time() -> None:
    per_word = 2 * SEARCH_PAIR_COST  # two text fields
    fits = MAX_COST // (per_word + 1) - 10  # + 1: two characters of text a word, 1 unit per 10
    compile_(where='"' + " ".join(["a"] * fits) + '"')
    refused(where='"' + " ".join(["a"] * (MAX_COST // per_word + 1)) + '"')


@pytest.mark.parametrize(
    "request_",
    [
        {"where": " or ".join(["id = 1"] * 4_000)},  # 12,000 nodes, one parameter
        {"where": "id in (" + ", ".join(["1"] * 10_001) + ")"},  # repeated values: one parameter
        {"where": ["id = 1"] * 4_000},  # as many where parameters
        {"select": ", ".join(f"id + 1 as c{i}" for i in range(3_400))},
        {"order_by": ", ".join(["id + value"] * 3_400)},
        {"group_by": ", ".join(f"id + {i} as g{i}" for i in range(3_400))},
    ],
    ids=["or-chain", "in-list", "where-clauses", "select", "order_by", "group_by"],
)
def test_long_expressions_are_refused_as_expressions(request_: dict[str, Any]) -> None:
    assert refused(**request_).detail["part"] == "expression"


def test_what_fits_compiles_to_bounded_sql() -> None:
    near_limit = [
        {"where": " or ".join(f"id = {i}" for i in range(3_000))},
        {"where": "id in (" + ", ".join(str(i) for i in range(5_000)) + ")"},
        {"where": '"' + " ".join(f"w{i}" for i in range(1_000)) + '"'},
        {"where": "name = '" + "x" * 90_000 + "'"},
    ]
    for request_ in near_limit:
        compiled = compile_(**request_)
        assert len(compiled.sql) < 1_000_000, len(compiled.sql)
    refused(where="name = '" + "x" * 99_980 + "' and id = 1")  # text: 1 unit per 10 characters
    assert TEXT_CHARS_PER_UNIT == 10


def test_select_star_is_free_however_wide() -> None:
    widest = {f"c{i}": "int" for i in range(4096)}
    compiled = compile_(widest)
    assert len(compiled.columns) == 4096
    refused(widest, select=", ".join(f"c{i} + 1 as x{i}" for i in range(4096)))


def test_all_clauses_together_are_held_to_one_clause_length() -> None:
    with pytest.raises(ODSQLError) as caught:
        compile_(where=["name = '" + "x" * 60_000 + "'", "city = '" + "y" * 60_000 + "'"])
    assert caught.value.error_code == "odsql_query_too_long"
    assert caught.value.detail["length"] > 100_000


def test_the_budget_names_its_largest_part() -> None:
    budget = Budget(limit=10)
    budget.charge(4, "expression", "select")
    with budget.free():
        budget.charge(100, "expression", "select")  # select *: not counted
    budget.search(1, 1, "where")
    assert budget.spent == 8
    with pytest.raises(ODSQLError) as caught:
        budget.text(50, "order_by")
    assert caught.value.detail == {"clause": "order_by", "cost": 13, "limit": 10, "part": "text"}
    assert "shorten the quoted strings" in caught.value.message


GEO = {"id": "int", "name": "text", "geo": "geo_point_2d", "shape": "geo_shape"}


@pytest.mark.parametrize(
    ("schema", "request_", "part"),
    [
        (CATALOG_FIELDS, {"where": 'search(*, "' + " ".join(["a"] * 20_000) + '")'}, "search"),
        (WIDE, {"where": "search(" + ", ".join(WIDE) + ', "one two three")'}, "search"),
        (WIDE, {"where": 'search(t1, t2, t3, "' + " ".join(["w"] * 1_000) + '")'}, "search"),
        (SCHEMA, {"where": " or ".join(["id in [1..2]"] * 2_600)}, "expression"),
        (SCHEMA, {"where": " or ".join(["id:[1 TO 2]"] * 2_600)}, "expression"),
        (SCHEMA, {"where": " or ".join(["city:x"] * 4_000)}, "expression"),
        (SCHEMA, {"select": ", ".join(f"now(days=1,hours=2,weeks=3) as n{i}" for i in range(2_600))},
         "expression"),
        (SCHEMA, {"select": "now(" + ", ".join(["days=1"] * 10_001) + ")"}, "expression"),
        (SCHEMA, {"select": ",".join(f"median(id) as m{i}" for i in range(5_001))}, "expression"),
    ],
    ids=["search-star", "search-1000-fields", "search-3-fields", "ranges", "colon-ranges", "colon-values",
         "now-arguments", "now-one-call", "medians"],
)  # fmt: skip
def test_the_new_forms_are_held_to_the_budget(
    schema: dict[str, str], request_: dict[str, Any], part: str
) -> None:
    assert refused(schema, **request_).detail["part"] == part


def test_a_large_query_geometry_is_one_parameter_and_bounded_in_vertices() -> None:
    """Geo predicates cost their nodes and their literal's text: the clause length bounds them first."""
    ring = ", ".join(f"{i / 10_000} {(i % 2) / 10}" for i in range(7_000)) + ", 0 0"
    compiled = compile_(GEO, where=f"within(geo, geom'POLYGON((0 0, {ring}))')")
    assert compiled.sql.count("datawharf_geo_points") == 1 and len(compiled.sql) < 1_000
    with pytest.raises(ODSQLError) as caught:
        compile_(GEO, where="within(geo, geom'POLYGON((" + "0 0, " * 10_001 + "0 0))')")
    assert caught.value.error_code == "odsql_invalid_geometry"
    assert "10,000 vertices" in caught.value.message


def test_hostile_include_patterns_stay_linear() -> None:
    import time

    names = {("a" * 60) + str(i): "int" for i in range(2_000)} | {"zb": "int"}
    pattern = "*a" * 5_000 + "*b"  # a backtracking glob (fnmatch, a regular expression) would not end
    started = time.monotonic()
    compiled = compile_(names, select=f"include({pattern}), exclude({pattern}), zb")
    assert [c.name for c in compiled.columns] == ["zb"]
    assert time.monotonic() - started < 10


WIDEST = {f"c{i}": "int" for i in range(4096)}


@pytest.mark.parametrize(
    "select",
    [
        "exclude(" + ", ".join(f"*x{i}" for i in range(12_000)) + ")",  # a glob is tried on every field
        ", ".join(f"include(x{i}*)" for i in range(5_500)),  # each include scans every field
    ],
    ids=["globs", "includes"],
)
def test_many_patterns_over_many_fields_are_refused_as_patterns(select: str) -> None:
    import time

    started = time.monotonic()
    assert refused(WIDEST, select=select).detail["part"] == "pattern"
    assert time.monotonic() - started < 10


def test_names_and_prefixes_cost_nothing_however_many() -> None:
    import time

    started = time.monotonic()
    compiled = compile_(WIDEST, select="exclude(" + ", ".join(f"x{i}*" for i in range(6_000)) + ", c1*, c2)")
    assert [c.name for c in compiled.columns] == [f for f in WIDEST if not f.startswith("c1") and f != "c2"]
    assert time.monotonic() - started < 10
