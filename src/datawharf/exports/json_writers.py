"""JSON (one array), JSON Lines (one record a line) and GeoJSON (a FeatureCollection), written a batch
at a time so the document is never whole in memory. Records are the same flat objects as ``records``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import shapely

from datawharf.explore.values import batch_columns
from datawharf.exports.context import ExportContext
from datawharf.exports.geometry import geometries, geometry_column


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def json_records(context: ExportContext, batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
    """The batch's rows as flat JSON-ready records, keyed by the columns' headers."""
    columns = batch_columns(context.columns, batch, context.zone)
    names = context.headers
    for i in range(batch.num_rows):
        yield {name: values[i] for name, values in zip(names, columns, strict=True)}


def write_json(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    first = True
    yield b"["
    for batch in batches:
        parts = []
        for record in json_records(context, batch):
            parts.append(("\n" if first else ",\n") + dumps(record))
            first = False
        if parts:
            yield "".join(parts).encode()
    yield b"]\n" if first else b"\n]\n"


def write_jsonl(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    for batch in batches:
        lines = [dumps(record) + "\n" for record in json_records(context, batch)]
        if lines:
            yield "".join(lines).encode()


def _geometry(value: Any, column_type: str) -> Any:
    if value is None:
        return None
    if column_type == "geo_point_2d":
        return {"type": "Point", "coordinates": [value["lon"], value["lat"]]}
    if isinstance(value, dict) and value.get("type") == "Feature":
        return value.get("geometry")
    return value if isinstance(value, dict) else None


def _projected(context: ExportContext, batch: pa.RecordBatch, geo: int) -> list[Any]:
    """The batch's geometries reprojected (``epsg``), as GeoJSON objects."""
    assert context.projection is not None
    geoms = context.projection.apply(geometries(batch.column(geo), context.columns[geo].type))
    return [None if text is None else json.loads(text) for text in shapely.to_geojson(geoms).tolist()]


def write_geojson(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """A FeatureCollection; reprojected into ``epsg`` it names its CRS (the GeoJSON 2008 ``crs`` member,
    which GDAL and QGIS read: RFC 7946 itself knows only WGS 84)."""
    geo = geometry_column(context.columns, "geojson")
    geo_type = context.columns[geo].type
    geo_name = context.headers[geo]
    projected = context.projection is not None and not context.projection.identity
    first = True
    head = '{"type": "FeatureCollection", '
    if projected:
        assert context.projection is not None
        crs = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{context.projection.epsg}"}}
        head += f'"crs": {dumps(crs)}, '
    yield (head + '"features": [').encode()
    for batch in batches:
        parts = []
        shapes = _projected(context, batch, geo) if projected else None
        for index, record in enumerate(json_records(context, batch)):
            value = record.pop(geo_name)
            geometry = shapes[index] if shapes is not None else _geometry(value, geo_type)
            feature = {"type": "Feature", "geometry": geometry, "properties": record}
            parts.append(("\n" if first else ",\n") + dumps(feature))
            first = False
        if parts:
            yield "".join(parts).encode()
    yield b"]}\n" if first else b"\n]}\n"
