"""The geo functions compiled ODSQL calls (``odsql.geo``), run by the real query engine: rows of every
geometry kind, nulls and unreadable GeoJSON, and a scan held to the engine's time budget."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import shapely

from datawharf.odsql import QueryRequest, compile_query
from datawharf.store.query_engine import QueryEngine, QueryFailed

SCHEMA = {"id": "int", "shape": "geo_shape", "point": "geo_point_2d"}
SHAPES: dict[int, dict[str, Any] | str | None] = {
    1: {"type": "Point", "coordinates": [2.35, 48.85]},
    2: {"type": "LineString", "coordinates": [[2.0, 48.0], [3.0, 49.0]]},
    3: {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]]]},
    4: {"type": "MultiPolygon", "coordinates": [
        [[[10, 10], [11, 10], [11, 11], [10, 10]]],
        [[[2.31, 48.81], [2.32, 48.81], [2.32, 48.82], [2.31, 48.81]]],
    ]},
    5: {"type": "Polygon", "coordinates": [
        [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]],
        [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]],
    ]},
    6: None,
    7: "not json at all",
    8: {"type": "GeometryCollection", "geometries": []},
    9: {"type": "Point", "coordinates": [1e308, 1e308]},
}  # fmt: skip
POINTS = {
    1: (2.35, 48.85),
    2: (2.5, 48.5),
    3: (0.0, 0.0),
    4: (0.75, 0.0),
    5: None,
    6: (179.9, -89.9),
    7: None,
    8: (1e308, -1e308),
    9: None,
}


@pytest.fixture(scope="module")
def engine() -> Iterator[QueryEngine]:
    engine = QueryEngine(pool_size=1, threads=1, timeout=0.5)
    with engine.connection() as con:
        rows = [
            (i, None if s is None else s if isinstance(s, str) else json.dumps(s), POINTS[i])
            for i, s in SHAPES.items()
        ]
        con.execute("CREATE TABLE shapes (id BIGINT, shape VARCHAR, point STRUCT(lon DOUBLE, lat DOUBLE))")
        for i, shape, point in rows:
            value = None if point is None else {"lon": point[0], "lat": point[1]}
            con.execute("INSERT INTO shapes VALUES (?, ?, ?)", [i, shape, value])
    yield engine
    engine.close()


def ids(engine: QueryEngine, where: str) -> list[int]:
    compiled = compile_query(
        QueryRequest(where=where, select="id", order_by="id"), SCHEMA, source_sql="shapes"
    )
    return [row[0] for row in engine.fetch(compiled.sql, compiled.params)[1]]


def readable() -> dict[int, shapely.Geometry]:
    return {i: shapely.geometry.shape(s) for i, s in SHAPES.items() if isinstance(s, dict)}


PARIS = "POLYGON((2.25 48.75, 2.45 48.75, 2.45 48.95, 2.25 48.95, 2.25 48.75))"
HOLE = "POLYGON((-0.4 -0.4, 0.4 -0.4, 0.4 0.4, -0.4 0.4, -0.4 -0.4))"


@pytest.mark.parametrize(
    ("relation", "literal"),
    [("intersects", PARIS), ("within", PARIS), ("disjoint", PARIS), ("intersects", HOLE), ("within", HOLE)],
)
def test_shape_relations_match_shapely(engine: QueryEngine, relation: str, literal: str) -> None:
    query = shapely.from_wkt(literal)
    expected = [i for i, g in readable().items() if getattr(g, relation)(query)]
    assert ids(engine, f"{relation}(shape, geom'{literal}')") == expected


def test_a_geojson_query_geometry_is_the_same_as_its_wkt(engine: QueryEngine) -> None:
    geojson = shapely.to_geojson(shapely.from_wkt(PARIS))
    assert ids(engine, f"intersects(shape, geom'{geojson}')") == ids(
        engine, f"intersects(shape, geom'{PARIS}')"
    )


def test_point_relations_and_the_hole(engine: QueryEngine) -> None:
    donut = SHAPES[5]
    assert isinstance(donut, dict)
    geojson = json.dumps(donut)
    # (0, 0) is in the hole, (0.75, 0) in the ring
    assert ids(engine, f"within(point, geom'{geojson}')") == [4]
    assert ids(engine, f"disjoint(point, geom'{geojson}')") == [1, 2, 3, 6, 8]


def test_within_distance_to_a_shape_is_to_its_nearest_point(engine: QueryEngine) -> None:
    # the line from (2, 48) to (3, 49) comes nearest (2.4, 48.5) at (2.45, 48.45): 6.7 km away
    assert 2 not in ids(engine, "within_distance(shape, geom'POINT(2.4 48.5)', 6km)")
    assert 2 in ids(engine, "within_distance(shape, geom'POINT(2.4 48.5)', 7km)")
    # inside a polygon is distance 0; inside its hole is not
    assert 5 in ids(engine, "within_distance(shape, geom'POINT(0.75 0)', 1m)")
    assert 5 not in ids(engine, "within_distance(shape, geom'POINT(0 0)', 1km)")


def test_a_shape_scan_is_held_to_the_engine_time_budget(engine: QueryEngine) -> None:
    with engine.connection() as con:
        con.execute(
            'CREATE TABLE many AS SELECT \'{"type":"Polygon","coordinates":[[[\' || x || \',\' || y '
            "|| '],[' || (x + 0.01) || ',' || y || '],[' || x || ',' || (y + 0.01) || '],[' || x || ',' || y "
            "|| ']]]}' AS shape FROM (SELECT random() * 10 AS x, 40 + random() * 10 AS y FROM range(400000))"
        )
    compiled = compile_query(
        QueryRequest(where=f"intersects(shape, geom'{PARIS}')", select="count(*) as n"),
        SCHEMA,
        source_sql="many",
    )
    started = time.monotonic()
    with pytest.raises(QueryFailed) as caught:
        engine.fetch(compiled.sql, compiled.params)
    assert caught.value.error_code == "query_timeout"
    assert time.monotonic() - started < 30
