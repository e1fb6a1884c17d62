"""Plane geometry for GeoJSON records: centroids, and the few projections worth carrying without PROJ.

Hand-written on purpose: shapely and pyproj bring GEOS and PROJ (tens of MB of native code and grids)
for two jobs that take a page here. The centroid is the planar one in degrees (area-weighted for
polygons, length-weighted for lines), as portals show ``geo_point_2d``. The projections are the ones
French and European open data actually ship: Web Mercator (3857), Lambert-93 (2154) and the nine
Lambert conic conformal zones CC42-CC50 (3942-3950) on RGF93/GRS80, and UTM zones on WGS84
(32601-32660, 32701-32760). RGF93 and ETRS89 coincide with WGS84 at the metre level, so no datum
shift is applied. Anything else is refused with the list of what is supported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from datawharf.errors import ExtractError

Point = tuple[float, float]
Transform = Callable[[float, float], Point]

GEOGRAPHIC = {4326, 4258, 4171, 4979, 4269, 4230}  # WGS84, ETRS89, RGF93, WGS84 3D, NAD83
WEB_MERCATOR = {3857, 900913, 3785, 102100, 102113}
_A = 6378137.0
_F_GRS80 = 1 / 298.257222101
_F_WGS84 = 1 / 298.257223563


def supported_epsg() -> str:
    return "4326 (and other lon/lat), 3857, 2154, 3942-3950, 32601-32660, 32701-32760"


def transform_for(epsg: int) -> Transform | None:
    """``(x, y) -> (lon, lat)`` for ``epsg``; None when coordinates are already lon/lat."""
    if epsg in GEOGRAPHIC:
        return None
    if epsg in WEB_MERCATOR:
        return _web_mercator
    if epsg == 2154:
        return _lcc(lat0=46.5, lat1=44.0, lat2=49.0, lon0=3.0, x0=700_000.0, y0=6_600_000.0)
    if 3942 <= epsg <= 3950:
        zone = epsg - 3900
        return _lcc(
            lat0=zone,
            lat1=zone - 0.75,
            lat2=zone + 0.75,
            lon0=3.0,
            x0=1_700_000.0,
            y0=(zone - 41) * 1_000_000.0 + 200_000.0,
        )
    if 32601 <= epsg <= 32660 or 32701 <= epsg <= 32760:
        return _utm(zone=epsg % 100, south=epsg > 32700)
    raise ExtractError(
        f"EPSG:{epsg} is not a projection datawharf converts; supported: {supported_epsg()}. "
        "Reproject the file to EPSG:4326 (for example with ogr2ogr -t_srs EPSG:4326).",
        error_code="geojson_unsupported_epsg",
        detail={"epsg": epsg},
    )


def _web_mercator(x: float, y: float) -> Point:
    return math.degrees(x / _A), math.degrees(2 * math.atan(math.exp(y / _A)) - math.pi / 2)


def _lcc(*, lat0: float, lat1: float, lat2: float, lon0: float, x0: float, y0: float) -> Transform:
    """Inverse Lambert conic conformal, two standard parallels, GRS80 (Snyder, Map Projections, 15)."""
    e = math.sqrt(2 * _F_GRS80 - _F_GRS80**2)

    def m(phi: float) -> float:
        return math.cos(phi) / math.sqrt(1 - (e * math.sin(phi)) ** 2)

    def t(phi: float) -> float:
        return math.tan(math.pi / 4 - phi / 2) / ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (
            e / 2
        )

    p0, p1, p2 = (math.radians(v) for v in (lat0, lat1, lat2))
    n = (math.log(m(p1)) - math.log(m(p2))) / (math.log(t(p1)) - math.log(t(p2)))
    big_f = m(p1) / (n * t(p1) ** n)
    rho0 = _A * big_f * t(p0) ** n

    def inverse(x: float, y: float) -> Point:
        dx, dy = x - x0, rho0 - (y - y0)
        rho = math.copysign(math.hypot(dx, dy), n)
        theta = math.atan2(math.copysign(1, n) * dx, math.copysign(1, n) * dy)
        tt = (rho / (_A * big_f)) ** (1 / n)
        phi = math.pi / 2 - 2 * math.atan(tt)
        for _ in range(15):
            es = e * math.sin(phi)
            nxt = math.pi / 2 - 2 * math.atan(tt * ((1 - es) / (1 + es)) ** (e / 2))
            if abs(nxt - phi) < 1e-12:
                phi = nxt
                break
            phi = nxt
        return lon0 + math.degrees(theta / n), math.degrees(phi)

    return inverse


def _utm(*, zone: int, south: bool) -> Transform:
    """Inverse transverse Mercator by Krüger's series (third order: millimetres within a zone)."""
    n = _F_WGS84 / (2 - _F_WGS84)
    big_a = _A / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    beta = (n / 2 - 2 * n**2 / 3 + 37 * n**3 / 96, n**2 / 48 + n**3 / 15, 17 * n**3 / 480)
    delta = (2 * n - 2 * n**2 / 3 - 2 * n**3, 7 * n**2 / 3 - 8 * n**3 / 5, 56 * n**3 / 15)
    k0, lon0 = 0.9996, zone * 6 - 183
    north0 = 10_000_000.0 if south else 0.0

    def inverse(x: float, y: float) -> Point:
        xi = (y - north0) / (k0 * big_a)
        eta = (x - 500_000.0) / (k0 * big_a)
        xi_p = xi - sum(b * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, b in enumerate(beta, 1))
        eta_p = eta - sum(b * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, b in enumerate(beta, 1))
        chi = math.asin(math.sin(xi_p) / math.cosh(eta_p))
        phi = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(delta, 1))
        lam = math.atan2(math.sinh(eta_p), math.cos(xi_p))
        return lon0 + math.degrees(lam), math.degrees(phi)

    return inverse


def reproject(coordinates: Any, transform: Transform) -> Any:
    """The same nesting of positions, each ``[x, y, ...]`` turned into ``[lon, lat, ...]``."""
    if isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], int | float):
        lon, lat = transform(float(coordinates[0]), float(coordinates[1]))
        return [lon, lat, *coordinates[2:]]
    if isinstance(coordinates, list):
        return [reproject(c, transform) for c in coordinates]
    return coordinates


def reproject_geometry(geometry: dict[str, Any], transform: Transform | None) -> dict[str, Any]:
    if transform is None:
        return geometry
    result = dict(geometry)
    if "coordinates" in geometry:
        result["coordinates"] = reproject(geometry["coordinates"], transform)
    if isinstance(geometry.get("geometries"), list):
        result["geometries"] = [
            reproject_geometry(g, transform) if isinstance(g, dict) else g for g in geometry["geometries"]
        ]
    return result


# -- centroid --------------------------------------------------------------------------------------
def _positions(coordinates: Any) -> list[Point]:
    return [(float(p[0]), float(p[1])) for p in coordinates or [] if isinstance(p, list) and len(p) >= 2]


def _line(points: list[Point]) -> tuple[float, float, float]:
    """(length, x, y) of a polyline's length-weighted centroid."""
    total = sx = sy = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        length = math.hypot(x2 - x1, y2 - y1)
        total += length
        sx += length * (x1 + x2) / 2
        sy += length * (y1 + y2) / 2
    if total == 0:
        return 0.0, *_mean(points)
    return total, sx / total, sy / total


def _mean(points: list[Point]) -> Point:
    if not points:
        return math.nan, math.nan
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _ring(points: list[Point]) -> tuple[float, float, float]:
    """(|area|, x, y) of a ring by the shoelace formula, shifted to its first vertex for precision."""
    if len(points) < 3:
        return 0.0, *_mean(points)
    ox, oy = points[0]
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        x1, y1, x2, y2 = x1 - ox, y1 - oy, x2 - ox, y2 - oy
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if area == 0:
        return 0.0, *_mean(points)
    return abs(area) / 2, cx / (3 * area) + ox, cy / (3 * area) + oy


def _parts(geometry: dict[str, Any]) -> list[tuple[int, float, float, float]]:
    """(dimension, weight, x, y) of each simple part."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        points = _positions([coordinates])
        return [(0, 1.0, *points[0])] if points else []
    if kind == "MultiPoint":
        return [(0, 1.0, *p) for p in _positions(coordinates)]
    if kind == "LineString":
        return [(1, *_line(_positions(coordinates)))]
    if kind == "MultiLineString":
        return [(1, *_line(_positions(line))) for line in coordinates or []]
    if kind == "Polygon":
        return [_polygon(coordinates or [])]
    if kind == "MultiPolygon":
        return [_polygon(polygon or []) for polygon in coordinates or []]
    if kind == "GeometryCollection":
        return [part for g in geometry.get("geometries") or [] if isinstance(g, dict) for part in _parts(g)]
    return []


def _polygon(rings: list[Any]) -> tuple[int, float, float, float]:
    if not rings:
        return (2, 0.0, math.nan, math.nan)
    area, x, y = _ring(_positions(rings[0]))
    if area == 0:
        return (2, 0.0, x, y)
    sx, sy = area * x, area * y
    for hole in rings[1:]:
        hole_area, hx, hy = _ring(_positions(hole))
        area -= hole_area
        sx -= hole_area * hx
        sy -= hole_area * hy
    return (2, area, sx / area, sy / area) if area > 0 else (2, 0.0, x, y)


def centroid(geometry: dict[str, Any]) -> Point | None:
    """``(lon, lat)`` of the geometry's centroid, from its highest-dimension parts; None if empty."""
    parts = [p for p in _parts(geometry) if not math.isnan(p[2]) and not math.isnan(p[3])]
    if not parts:
        return None
    top = max(p[0] for p in parts)
    parts = [p for p in parts if p[0] == top]
    weight = sum(p[1] for p in parts)
    if weight <= 0:
        return _mean([(p[2], p[3]) for p in parts])
    return sum(p[1] * p[2] for p in parts) / weight, sum(p[1] * p[3] for p in parts) / weight
