"""Result values as the Explore API v2.1 writes them, one converter per result column type.

DuckDB hands back Python values (``fetchall``) or Arrow arrays (a stream); both go through the same
converters so records and exports agree: dates and datetimes in ISO 8601 (datetimes in the request's
timezone, with their offset), geo points as ``{"lon": .., "lat": ..}``, shapes as GeoJSON objects, and
non-finite doubles (``NaN``, ``inf``: JSON has no such numbers) as null.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from datawharf.odsql import OutputColumn

Converter = Callable[[Any], Any]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def local_datetime(value: Any, zone: ZoneInfo) -> Any:
    """An instant as an aware datetime in ``zone`` (naive values are UTC instants, by convention)."""
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone)


def _point(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    lon, lat = value.get("lon"), value.get("lat")
    if lon is None or lat is None:
        return None
    return {"lon": lon, "lat": lat}


def _shape(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:  # published shapes are checked GeoJSON; keep anything else as the text it is
        return value


def json_converter(column_type: str, zone: ZoneInfo) -> Converter | None:
    """How one column's values become JSON-ready values; None when they already are."""
    if column_type == "date":
        return _date
    if column_type == "datetime":
        return lambda v: None if v is None else local_datetime(v, zone).isoformat()
    if column_type == "geo_point_2d":
        return _point
    if column_type == "geo_shape":
        return _shape
    if column_type in ("double", "null"):
        return _finite
    return None


def json_rows(
    columns: Sequence[OutputColumn], rows: Sequence[Sequence[Any]], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Rows from ``fetchall`` as flat Explore v2.1 records."""
    converters = [json_converter(c.type, zone) for c in columns]
    names = [c.name for c in columns]
    records = []
    for row in rows:
        record = {}
        for name, convert, value in zip(names, converters, row, strict=True):
            record[name] = convert(value) if convert is not None and value is not None else value
        records.append(record)
    return records


def batch_columns(columns: Sequence[OutputColumn], batch: pa.RecordBatch, zone: ZoneInfo) -> list[list[Any]]:
    """A record batch as JSON-ready Python lists, one per column (for the row-writing exports)."""
    out = []
    for index, column in enumerate(columns):
        values = batch.column(index).to_pylist()
        convert = json_converter(column.type, zone)
        if convert is not None:
            values = [None if v is None else convert(v) for v in values]
        out.append(values)
    return out
