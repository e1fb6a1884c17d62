"""JSON (one array), JSON Lines (one record a line) and GeoJSON (a FeatureCollection), written a batch
at a time so the document is never whole in memory. Records are the same flat objects as ``records``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from datawharf.errors import InvalidInput
from datawharf.explore.values import batch_columns
from datawharf.exports.context import GEO_TYPES, ExportContext
from datawharf.odsql import OutputColumn


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


def geometry_column(columns: Sequence[OutputColumn]) -> int:
    """The index of the column that gives each feature its geometry: the first geo column selected."""
    for index, column in enumerate(columns):
        if column.type in GEO_TYPES:
            return index
    raise InvalidInput(
        "A GeoJSON export needs a geo_point_2d or geo_shape field among the selected columns; this "
        "dataset or this select has none. Select the geo field, or export as csv or json.",
        error_code="export_needs_geo_field",
        detail={"format": "geojson"},
    )


def _geometry(value: Any, column_type: str) -> Any:
    if value is None:
        return None
    if column_type == "geo_point_2d":
        return {"type": "Point", "coordinates": [value["lon"], value["lat"]]}
    if isinstance(value, dict) and value.get("type") == "Feature":
        return value.get("geometry")
    return value if isinstance(value, dict) else None


def write_geojson(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    geo = geometry_column(context.columns)
    geo_type = context.columns[geo].type
    geo_name = context.headers[geo]
    first = True
    yield b'{"type": "FeatureCollection", "features": ['
    for batch in batches:
        parts = []
        for record in json_records(context, batch):
            geometry = _geometry(record.pop(geo_name), geo_type)
            feature = {"type": "Feature", "geometry": geometry, "properties": record}
            parts.append(("\n" if first else ",\n") + dumps(feature))
            first = False
        if parts:
            yield "".join(parts).encode()
    yield b"]}\n" if first else b"\n]}\n"
