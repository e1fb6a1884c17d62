"""The v1 query language translated onto ODSQL (``explore/v1_query.py``): each form's translation, compiled
by the real ODSQL compiler; bad input is always a 400 (``InvalidInput``), never a crash."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datawharf.errors import InvalidInput
from datawharf.explore.v1_query import (
    distance_condition,
    facet_filters,
    fields_to_select,
    polygon_condition,
    q_to_odsql,
    sort_to_order_by,
)
from datawharf.odsql import QueryRequest, compile_query

SCHEMA = {"title": "text", "city": "text", "population": "int", "founded": "date", "updated": "datetime"}
NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


def translated(q: str) -> str | None:
    where = q_to_odsql(q, SCHEMA, NOW)
    if where is not None:  # what the translation says must be ODSQL the compiler takes
        compile_query(QueryRequest(where=where), SCHEMA, source_sql="t")
    return where


@pytest.mark.parametrize(
    ("q", "odsql"),
    [
        ("", None),
        ("film", 'search("film")'),
        ("film paris", '(search("film") and search("paris"))'),
        ('"saint denis"', 'search("saint denis")'),
        ("film OR trees", '(search("film") or search("trees"))'),
        ("(film or trees) AND NOT paris", '((search("film") or search("trees")) and not search("paris"))'),
        ("title:paris", 'search(`title`, "paris")'),
        ("population:5", '`population` = "5"'),
        ("population == 5", '`population` = "5"'),
        ("population >= 50000", '`population` >= "50000"'),
        ("founded >= 2013/02/11", '`founded` >= "2013/02/11"'),
        ("founded:2013", '(`founded` >= "2013" and `founded` < "2014")'),
        ("founded <= 2013/12", '`founded` < "2014-01"'),
        ("founded > 2013/02/28", '`founded` >= "2013-03-01"'),
        ("founded:[1950 TO 2000]", '(`founded` >= "1950" and `founded` < "2001")'),
        ("population:[10 TO *]", '(`population` >= "10")'),
        ("#null(population)", "`population` is null"),
        ('#exact(city, "Saint Denis")', '`city` = "Saint Denis"'),
        ("updated >= #now()", '`updated` >= "2026-03-31T12:00:00+00:00"'),
        ("updated >= #now(years=-1, hours=-1)", '`updated` >= "2025-03-31T11:00:00+00:00"'),
        ("updated < #now(months=-1)", '`updated` < "2026-02-28T12:00:00+00:00"'),
        ("updated < #now(year=2001, day=1)", '`updated` < "2001-03-01T12:00:00+00:00"'),
        ('city:"a \\" quote"', 'search(`city`, "a \\" quote")'),
        ("http://example.org/x", 'search("http://example.org/x")'),
        (
            "(city = 'Lyon') OR (city = 'Lille')",
            '(`city` = "Lyon" or `city` = "Lille")',
        ),  # as cdmx scripts  # no field "http": the text itself
        ("opens 10:30", '(search("opens") and search("10:30"))'),
    ],
)
def test_each_form_becomes_odsql(q: str, odsql: str | None) -> None:
    assert translated(q) == odsql


@pytest.mark.parametrize(
    "q",
    ["(film", "film)", '"open', "city:", "nosuchfield >= 3", "founded:[2000 2001]", "#nope(x)", "#null()",
     "#now(days=x)", "a >= `b", "#now(month=13) < updated", "x ! y", "(" * 65 + "x" + ")" * 65,
     "NOT " * 65 + "x", "x" * 10_001],
)  # fmt: skip
def test_bad_q_is_a_400(q: str) -> None:
    with pytest.raises(InvalidInput):
        translated(q)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab :=<>()[]"#,*-TOANDRNULLnow()0123456789 title population', max_size=60))
def test_any_q_translates_or_is_refused_cleanly(q: str) -> None:
    with contextlib.suppress(InvalidInput):  # ODSQLError included: compiled, and refused with a code
        translated(q)


def test_sort_fields_filters_and_distance() -> None:
    assert sort_to_order_by(["population", "-city,title"]) == "`population` desc, `city` asc, `title` desc"
    assert sort_to_order_by([]) is None
    assert fields_to_select("id, city") == "`id`, `city`"
    assert facet_filters([("city", 'Saint "D"')]) == ['city:"Saint "D""']
    assert (
        distance_condition("48.85,2.35,1000", "geo")
        == "within_distance(`geo`, geom'POINT(2.35 48.85)', 1000.0m)"
    )
    for bad in ("48.85,2.35,x", "91,2,10", "1,2,3,4", "48.85,2.35,-1"):
        with pytest.raises(InvalidInput):
            distance_condition(bad, "geo")
    with pytest.raises(InvalidInput) as caught:
        distance_condition("48.85,2.35,1000", None)
    assert caught.value.error_code == "v1_geofilter_unsupported"


def test_polygon_becomes_within_on_points_and_intersects_on_shapes() -> None:
    polygon = "(48.88,2.37),(48.87,2.37),(48.88,2.38)"
    ring = "geom'POLYGON((2.37 48.88, 2.37 48.87, 2.38 48.88, 2.37 48.88))'"
    assert polygon_condition(polygon, "geo", "area") == f"within(`geo`, {ring})"
    assert polygon_condition(polygon, None, "area") == f"intersects(`area`, {ring})"
    schema = {"geo": "geo_point_2d", "area": "geo_shape"}
    compile_query(QueryRequest(where=polygon_condition(polygon, "geo", "area")), schema, source_sql="t")
    for bad in ("(48.88,2.37),(48.87,2.37)", "(48.88,2.37),(48.87,2.37),(48.88,x)", "(91,2),(1,2),(1,3)",
                "(1,2),(1,3),(2,3) junk"):  # fmt: skip
        with pytest.raises(InvalidInput):
            polygon_condition(bad, "geo", None)
    with pytest.raises(InvalidInput) as caught:
        polygon_condition(polygon, None, None)
    assert caught.value.error_code == "v1_geofilter_unsupported"
