"""Rows of Python values (JSON items, spreadsheet rows) into raw Arrow record batches.

A column keeps its source type when the batch agrees on one (JSON numbers stay numbers, spreadsheet
dates stay dates) so ``types.py`` can cast instead of parse; a column whose values disagree (a number
here, a string there) comes out as text, each value written as the source would print it. Objects and
arrays inside a record become JSON text: a GeoJSON geometry is then recognised as ``geo_shape``.

Batches are cut by rows (``ReadOptions.batch_size``) and by bytes, so a file of big records (polygons)
keeps memory bounded too. Columns only ever get added: each batch has every column seen so far, in
first-seen order, the ones a record lacks being null.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from datawharf.extract.base import ReadOptions

FILENAME_FIELD = "filename"  # the column ``extract_filename`` adds, as csvfile names it
MAX_BATCH_BYTES = 32 * 1024 * 1024


def plain(value: Any) -> Any:
    """A record value as a column accepts it: nested values become JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


def text(value: Any) -> str | None:
    """How a value prints when its column has to be text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return plain(value)
    return str(value)


def column_array(values: list[Any]) -> pa.Array:
    """One column, typed when every present value has the same kind, else text."""
    kinds = {type(v) for v in values if v is not None}
    try:
        if not kinds or kinds == {str}:
            return pa.array(values, pa.string())
        if kinds == {bool}:
            return pa.array(values, pa.bool_())
        if kinds == {int}:
            return pa.array(values, pa.int64())
        if kinds <= {int, float}:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        if kinds == {dt.date}:
            return pa.array(values, pa.date32())
        if kinds <= {dt.datetime, dt.date}:
            return pa.array(
                [
                    v if v is None or isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
                    for v in values
                ],
                pa.timestamp("us"),
            )
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass  # an integer beyond int64, an out-of-range date: text keeps it whole
    return pa.array([text(v) for v in values], pa.string())


def _size(row: Iterable[Any]) -> int:
    return sum(len(v) if isinstance(v, str) else 8 for v in row)


def dict_batches(
    rows: Iterable[dict[str, Any]], options: ReadOptions, *, constants: dict[str, str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Batches of dict records; stops pulling rows once ``options.max_records`` are out."""
    columns: dict[str, None] = {}
    pending: list[dict[str, Any]] = []
    size = emitted = 0
    limit = options.max_records
    if limit is not None and limit <= 0:
        return
    for row in rows:
        for key in row:
            if key not in columns:
                columns[key] = None
        pending.append(row)
        size += _size(row.values())
        emitted += 1
        if len(pending) >= options.batch_size or size >= MAX_BATCH_BYTES or emitted == limit:
            yield _build(list(columns), [[r.get(c) for c in columns] for r in pending], constants)
            pending, size = [], 0
        if emitted == limit:
            return
    if pending or not emitted:
        yield _build(list(columns), [[r.get(c) for c in columns] for r in pending], constants)


def list_batches(
    names: list[str],
    rows: Iterable[list[Any]],
    options: ReadOptions,
    *,
    constants: dict[str, str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of positional rows under ``names`` (duplicates and empty names allowed, as in a header).

    A row longer than ``names`` adds unnamed columns; a shorter one is padded with nulls.
    """
    names = list(names)
    pending: list[list[Any]] = []
    size = emitted = 0
    limit = options.max_records
    if limit is not None and limit <= 0:
        return
    for row in rows:
        if len(row) > len(names):
            names.extend([""] * (len(row) - len(names)))
        pending.append(row)
        size += _size(row)
        emitted += 1
        if len(pending) >= options.batch_size or size >= MAX_BATCH_BYTES or emitted == limit:
            yield _build(names, [r + [None] * (len(names) - len(r)) for r in pending], constants)
            pending, size = [], 0
        if emitted == limit:
            return
    if pending or not emitted:
        yield _build(names, [r + [None] * (len(names) - len(r)) for r in pending], constants)


def _build(names: list[str], rows: list[list[Any]], constants: dict[str, str] | None) -> pa.RecordBatch:
    arrays = [column_array([row[i] for row in rows]) for i in range(len(names))]
    names = list(names)
    for name, value in (constants or {}).items():
        arrays.append(pa.array([value] * len(rows), pa.string()))
        names.append(name)
    if not arrays:
        return pa.RecordBatch.from_pydict({})
    return pa.RecordBatch.from_arrays(arrays, names=names)


def filename_constants(params: dict[str, Any], options: ReadOptions) -> dict[str, str] | None:
    """The ``extract_filename`` column, when asked for and the name is known."""
    if params.get("extract_filename") and options.filename:
        return {FILENAME_FIELD: options.filename}
    return None


def as_bool(value: Any, default: bool) -> bool:
    """A boolean parameter as the API or the CLI spells it (``true``, ``1``, ``"false"``...)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
