"""``geojson``: features become records, streamed one by one from a FeatureCollection of any size.

Properties become fields as they are. The geometry becomes two fields placed first, as portals show
them: ``geo_point_2d``, its centroid as ``"lat,lon"`` text, and ``geo_shape``, the geometry as GeoJSON
text, both in WGS84 lon/lat (``types.py`` recognises them). ``epsg`` names the projection of the
coordinates; it is guessed from the legacy ``crs`` member, else from the range of the first
coordinates (Lambert-93 and Web Mercator are recognisable), and reprojected by ``_geo``.

Accepted layouts: a FeatureCollection (features under ``features``), one Feature, or a bare array of
features. Error codes: ``geojson_unsupported_epsg``, ``geojson_out_of_range`` (coordinates that are
not lon/lat under the chosen epsg), plus the JSON ones (``json_too_deep``, ``json_invalid``...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from datawharf.errors import ExtractError
from datawharf.extract._geo import centroid, reproject_geometry, transform_for
from datawharf.extract._io import ReplayStream, as_binary
from datawharf.extract._jsonstream import JsonRecords
from datawharf.extract._records import dict_batches, filename_constants, plain
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample
from datawharf.extract.json import looks_like_geojson

GEO_POINT_FIELD = "geo_point_2d"
GEO_SHAPE_FIELD = "geo_shape"
_TYPES = ("application/geo+json", "application/vnd.geo+json")
_CRS = re.compile(rb'"crs"\s*:\s*\{.{0,200}?"name"\s*:\s*"([^"]+)"', re.S)
_FIRST_XY = re.compile(rb'"coordinates"\s*:\s*[\[\s]*\[\s*(-?[0-9.eE+]+)\s*,\s*(-?[0-9.eE+]+)')


def epsg_from_crs_name(name: str) -> int | None:
    """``urn:ogc:def:crs:EPSG::2154``, ``EPSG:2154``, ``urn:ogc:def:crs:OGC:1.3:CRS84``..."""
    if "CRS84" in name.upper():
        return 4326
    found = re.search(r"EPSG:{1,2}(?:[0-9.]*:)?([0-9]+)$", name, re.I)
    return int(found.group(1)) if found else None


def guess_epsg(head: bytes) -> int:
    crs = _CRS.search(head[:65536])
    if crs:
        epsg = epsg_from_crs_name(crs.group(1).decode("utf-8", "replace"))
        if epsg is not None:
            return epsg
    first = _FIRST_XY.search(head)
    if first:
        try:
            x, y = float(first.group(1)), float(first.group(2))
        except ValueError:
            return 4326
        if abs(x) <= 180 and abs(y) <= 90:
            return 4326
        if 0 < x < 1_300_000 and 6_000_000 < y < 7_200_000:
            return 2154
        if abs(x) <= 20_037_509 and abs(y) <= 20_048_967:
            return 3857
    return 4326


class GeoJsonExtractor:
    name: ClassVar[str] = "geojson"
    label: ClassVar[str] = "GeoJSON"
    description: ClassVar[str] = (
        "GeoJSON features: properties become fields, geometries geo_shape and geo_point_2d."
    )
    extensions: ClassVar[tuple[str, ...]] = (".geojson",)
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = (
        ExtractorParameter(
            "epsg",
            "int",
            "EPSG",
            "EPSG code of the coordinates' projection (4326 for longitude/latitude).",
            4326,
        ),
        ExtractorParameter(
            "extract_filename", "boolean", "Extract filename", "Add a field with the file's name.", False
        ),
    )

    def detect(self, sample: Sample) -> float:
        by_name = os.path.splitext(sample.filename.lower())[1] in self.extensions
        by_type = (sample.content_type or "").split(";")[0].strip().lower() in _TYPES
        if looks_like_geojson(sample.head):
            return 0.98 if (by_name or by_type) else 0.95
        return 0.6 if (by_name or by_type) and sample.head.lstrip()[:1] in (b"{", b"[") else 0.0

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        if not sample.head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        return {"epsg": guess_epsg(sample.head), "extract_filename": False}

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        try:
            epsg = int(params.get("epsg") or 4326)
        except (TypeError, ValueError) as exc:
            raise ExtractError("epsg must be a number such as 4326.", error_code="invalid_parameter") from exc
        transform = transform_for(epsg)
        replay = ReplayStream(stream.read, keep=64 * 1024, chunk=16 * 1024)
        head = replay.peek(4096)
        root = (
            [] if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" or not _has_features(head) else ["features"]
        )
        buf_size = 16 * 1024 if options.max_records is not None else 64 * 1024
        features = JsonRecords(as_binary(replay), root, buf_size=buf_size)
        rows = (_row(feature, transform, epsg) for feature in features)
        return dict_batches(rows, options, constants=filename_constants(params, options))


def _has_features(head: bytes) -> bool:
    features = re.search(rb'"features"\s*:', head)
    single = re.search(rb'"type"\s*:\s*"Feature"', head)
    return features is not None or single is None


def _row(feature: Any, transform: Any, epsg: int) -> dict[str, Any]:
    if not isinstance(feature, dict):
        raise ExtractError(
            "A GeoJSON feature is not an object: check that the file is GeoJSON.",
            error_code="geojson_invalid",
        )
    geometry = feature.get("geometry")
    row: dict[str, Any] = {GEO_POINT_FIELD: None, GEO_SHAPE_FIELD: None}
    if isinstance(geometry, dict):
        geometry = reproject_geometry(geometry, transform)
        point = centroid(geometry)
        if point is not None:
            lon, lat = point
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise ExtractError(
                    f"Coordinates ({lon:.6g}, {lat:.6g}) are not longitude/latitude under EPSG:{epsg}: set "
                    "epsg to the projection of the file (2154 for Lambert-93, 3857 for Web Mercator...).",
                    error_code="geojson_out_of_range",
                    detail={"epsg": epsg},
                )
            row[GEO_POINT_FIELD] = f"{round(lat, 9)!r},{round(lon, 9)!r}"
        row[GEO_SHAPE_FIELD] = plain(geometry)
    properties = feature.get("properties")
    if isinstance(properties, dict):
        for key, value in properties.items():
            if key not in row:
                row[key] = plain(value)
    return row
