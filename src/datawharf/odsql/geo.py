"""Geometry in ODSQL: ``geom'…'`` literals, and the predicates DuckDB cannot compute by itself.

DuckDB's spatial extension is not available (nothing is installed at run time), so the shape predicates
(``intersects``, ``within``, ``disjoint``, ``within_distance`` on ``geo_shape``) and the ``envelope``
aggregate run as vectorised Python functions registered on every connection (``register``), built on
shapely (GEOS): a whole DuckDB vector of rows is parsed and tested in one shapely call, and the query's
geometry is parsed once and *prepared* (indexed), so a row costs a few microseconds whatever the size of
the polygon. A row's ``geo_shape`` is GeoJSON text (the warehouse convention); a ``geo_point_2d`` is its
``lon``/``lat`` pair, tested without building a geometry (``contains_xy``).

Precision: every predicate is planar, on longitude/latitude degrees, as GeoJSON defines coordinates;
an edge is the straight line between its vertices in degrees, not the great circle. ``within_distance``
on a shape measures the great-circle (haversine) distance from the centre to the shape's nearest point,
that point found in degrees: exact for points, within a fraction of a percent for shapes a few kilometres
across, less exact near the poles and for shapes spanning tens of degrees.
"""

from __future__ import annotations

import functools
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from datawharf.odsql.errors import Code, fail

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
MAX_LITERAL_VERTICES = 10_000  # a query's geometry; far above a drawn polygon, bounded planning and memory
RELATIONS = ("intersects", "within", "disjoint")

POINTS_FUNCTION = "datawharf_geo_points"  # (relation, lon, lat, geometry) -> boolean
SHAPES_FUNCTION = "datawharf_geo_shapes"  # (relation, geojson, geometry) -> boolean
SHAPE_DISTANCE_FUNCTION = "datawharf_geo_shape_distance"  # (geojson, lon, lat) -> metres
HULL_FUNCTION = "datawharf_convex_hull"  # (lons[], lats[]) -> GeoJSON


def parse_geometry(text: str, pos: int) -> shapely.Geometry:
    """A ``geom'…'`` literal, WKT (``POLYGON((…))``) or a GeoJSON geometry, with valid coordinates."""
    geometry: shapely.Geometry | None = None
    try:
        geometry = shapely.from_geojson(text) if text.lstrip().startswith("{") else shapely.from_wkt(text)
    except (shapely.errors.GEOSException, ValueError, TypeError):
        geometry = None
    problem = None
    if geometry is None or geometry.is_empty:
        problem = "is not a WKT or GeoJSON geometry"
    elif shapely.get_num_coordinates(geometry) > MAX_LITERAL_VERTICES:
        problem = f"has more than {MAX_LITERAL_VERTICES:,} vertices; simplify it"
    else:
        xmin, ymin, xmax, ymax = geometry.bounds
        if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
            problem = "has coordinates outside longitude -180..180, latitude -90..90"
    if geometry is None or problem is not None:
        fail(
            Code.INVALID_GEOMETRY,
            f"geom at {pos} {problem}: write geom'POLYGON((lon lat, …))', geom'POINT(lon lat)' or a GeoJSON "
            "geometry",
            position=pos,
            token=text[:40],
        )
    return geometry


def box(xmin: float, ymin: float, xmax: float, ymax: float) -> shapely.Geometry:
    return shapely.box(xmin, ymin, xmax, ymax)


def to_wkt(geometry: shapely.Geometry) -> str:
    """The text handed to DuckDB as the query's geometry parameter (parsed back once, cached)."""
    return str(shapely.to_wkt(geometry, rounding_precision=-1))


@functools.lru_cache(maxsize=256)
def _prepared(wkt: str) -> shapely.Geometry:
    geometry = shapely.from_wkt(wkt)
    shapely.prepare(geometry)
    return geometry


def _constant(array: pa.Array) -> Any:
    """A parameter DuckDB hands over as a whole vector of the same value."""
    return array[0].as_py() if len(array) else None


def _relate(relation: str, geometry: shapely.Geometry, rows: Any) -> np.ndarray:
    if relation == "within":  # the row lies inside the query's geometry
        return np.asarray(shapely.within(rows, geometry))
    hits = np.asarray(shapely.intersects(rows, geometry))
    return ~hits if relation == "disjoint" else hits


def _points(relation: pa.Array, lon: pa.Array, lat: pa.Array, geometry: pa.Array) -> pa.Array:
    geom = _prepared(_constant(geometry))
    xs = lon.to_numpy(zero_copy_only=False)
    ys = lat.to_numpy(zero_copy_only=False)
    missing = np.isnan(xs) | np.isnan(ys)
    kind = _constant(relation)
    if kind == "within":
        hits = np.asarray(shapely.contains_xy(geom, xs, ys))
    else:
        hits = np.asarray(shapely.intersects_xy(geom, xs, ys))
        if kind == "disjoint":
            hits = ~hits
    return pa.array(hits, pa.bool_(), mask=missing)


def _shapes(relation: pa.Array, shapes: pa.Array, geometry: pa.Array) -> pa.Array:
    geom = _prepared(_constant(geometry))
    rows = _from_geojson(shapes)
    missing = shapely.is_missing(rows)
    return pa.array(_relate(_constant(relation), geom, rows), pa.bool_(), mask=missing)


def _from_geojson(shapes: pa.Array) -> np.ndarray:
    """GeoJSON texts as geometries; a null or unreadable value is a missing geometry (a null result)."""
    return np.asarray(shapely.from_geojson(shapes.to_numpy(zero_copy_only=False), on_invalid="ignore"))


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle distance in metres, vectorised (numpy arrays or floats)."""
    la1, la2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


@np.errstate(all="ignore")  # a coordinate near the float limit overflows to inf: no distance, not a warning
def _shape_distance(shapes: pa.Array, lon: pa.Array, lat: pa.Array) -> pa.Array:
    x0, y0 = float(_constant(lon)), float(_constant(lat))
    rows = _from_geojson(shapes)
    missing = shapely.is_missing(rows)
    center = shapely.Point(x0, y0)
    lines = shapely.shortest_line(rows, center)  # from each shape's nearest point to the centre
    start = shapely.get_point(lines, 0)
    xs, ys = shapely.get_x(start), shapely.get_y(start)
    meters = haversine_m(xs, ys, x0, y0)
    inside = np.asarray(shapely.intersects_xy(rows, x0, y0))
    meters = np.where(inside, 0.0, meters)
    return pa.array(meters, pa.float64(), mask=missing | np.isnan(meters))


def _convex_hull(lons: pa.Array, lats: pa.Array) -> pa.Array:
    out: list[str | None] = []
    for xs, ys in zip(lons.to_pylist(), lats.to_pylist(), strict=True):
        pairs = [(x, y) for x, y in zip(xs or (), ys or (), strict=True) if x is not None and y is not None]
        if not pairs:
            out.append(None)
            continue
        hull = shapely.MultiPoint(pairs).convex_hull
        out.append(str(shapely.to_geojson(hull)))
    return pa.array(out, pa.string())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make the geo functions callable on ``con`` (every connection that runs compiled ODSQL)."""
    double, varchar, boolean = con.type("DOUBLE"), con.type("VARCHAR"), con.type("BOOLEAN")
    functions: list[tuple[str, Any, list[Any], Any]] = [
        (POINTS_FUNCTION, _points, [varchar, double, double, varchar], boolean),
        (SHAPES_FUNCTION, _shapes, [varchar, varchar, varchar], boolean),
        (SHAPE_DISTANCE_FUNCTION, _shape_distance, [varchar, double, double], double),
        (HULL_FUNCTION, _convex_hull, [con.list_type(double), con.list_type(double)], varchar),
    ]
    for name, func, args, result in functions:
        # the stubs' enums differ between DuckDB releases; the strings are accepted by every one
        con.create_function(  # type: ignore[call-overload]
            name, func, args, result, type="arrow", null_handling="special", side_effects=False
        )
