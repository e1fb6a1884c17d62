"""Field types: guessing them from a sample and converting whole columns, in Arrow compute.

The guess and the conversion are one piece of code on purpose: a type is guessed when converting the
sample with it loses (almost) nothing, so whatever the preview promises, the publish delivers. The
conversion is vectorized (regular expressions and casts over whole arrays), with no Python loop per
value, because publish runs it over every record.

Rules that users notice:
- a value with a leading zero (``01000``, ``007``) keeps its column ``text``: it is a code, not a number;
- ISO dates become ``date``, ISO datetimes ``datetime`` (UTC timestamps; naive ones are read as UTC);
- ``1,5`` is a double (decimal comma, as semicolon-separated files write it);
- one odd value in a sample does not turn a column into text: up to 5% (at least one in 5 or more
  values) may fail; at publish they become null plus a per-record error (the returned mask).
- empty cells and the usual no-data markers (``NA``, ``N/A``, ``-``, ``.``, ``null``) are null, never
  an error.
"""

from __future__ import annotations

import json
from typing import Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

FieldType = Literal["text", "int", "double", "date", "datetime", "geo_point_2d", "geo_shape"]
FIELD_TYPES: tuple[FieldType, ...] = (
    "text",
    "int",
    "double",
    "date",
    "datetime",
    "geo_point_2d",
    "geo_shape",
)

GEO_POINT = pa.struct([("lon", pa.float64()), ("lat", pa.float64())])
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "int": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "geo_point_2d": GEO_POINT,
    "geo_shape": pa.string(),  # GeoJSON geometry text
}

# Tried in this order: the first that converts the sample wins (int before double, date before datetime).
_GUESS_ORDER: tuple[FieldType, ...] = ("int", "double", "date", "datetime", "geo_point_2d", "geo_shape")
# What a string of a typed source (JSON, Parquet, a spreadsheet) may still become: those formats have no
# type for dates or geometries, which they write as text, but a number they would have typed as one.
_TEXT_FAMILY: tuple[FieldType, ...] = ("date", "datetime", "geo_point_2d", "geo_shape")
GUESS_SAMPLE_VALUES = 1000
# Every value the number, date, datetime and point patterns (and Arrow's ISO casts) accept starts with a
# digit, a sign, a dot or a comma (",5" is read as 0.5); every GeoJSON geometry with a brace. A column with
# more other values than the guess tolerates is none of those types: one regular expression rules them
# out, instead of trying each (~8 compute calls apiece: a preview guesses 15-40 columns, and text is the
# common outcome).
_FIRST_CHARACTER: dict[FieldType, str] = {
    "int": "^[-+.,0-9]",
    "double": "^[-+.,0-9]",
    "date": "^[-+.,0-9]",
    "datetime": "^[-+.,0-9]",
    "geo_point_2d": "^[-+.,0-9]",
    "geo_shape": "^[{]",
}
_CONVERT_GROUP_ROWS = 256 * 1024

_NULL_MARKERS = pa.array(["", "na", "n/a", "nan", "null", "none", "-", ".", "nd", "n.d."])
_LEADING_ZERO = r"^[+-]?0[0-9]"
_INT = r"^[+-]?(0|[1-9][0-9]{0,17})$"
# "1,130,345" and "6,718": thousands separators, tried as int before the decimal-comma double reading.
_THOUSANDS_INT = r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+$"
# "229,932.50": both separators, unambiguous.
_THOUSANDS_DOUBLE = r"^[+-]?[0-9]{1,3}(,[0-9]{3})+\.[0-9]+$"
_DOUBLE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)
_GEO_POINT = r"^(?P<lat>[+-]?[0-9]{1,2}\.[0-9]+)\s*,\s*(?P<lon>[+-]?[0-9]{1,3}\.[0-9]+)$"
_GEO_SHAPE = r'(?s)^\{.*"(coordinates|geometries)"\s*:'

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray


def _as_strings(array: pa.Array) -> pa.Array:
    """Strings to guess on or convert from.

    Nested values (JSON objects and lists) have no Arrow cast to string, so they are serialized one by
    one: a slow path, taken only by nested JSON sources, never by CSV.
    """
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    if pa.types.is_nested(array.type):
        return pa.array(
            [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in array.to_pylist()
            ],
            pa.string(),
        )
    return pc.cast(array, pa.string())


def _prepare(array: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Trimmed strings, and the mask of cells that are empty or say "no data"."""
    trimmed = pc.utf8_trim_whitespace(_as_strings(array))
    blank = pc.or_(pc.is_null(trimmed), pc.is_in(pc.utf8_lower(trimmed), value_set=_NULL_MARKERS))
    return trimmed, blank


def _cast_isolating(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast, turning only the values Arrow refuses into nulls.

    Arrow's cast fails the whole array on one bad value (``2023-02-30``); halving until the culprits are
    alone costs O(bad x log n) casts, and nothing when every value is good (the usual case).
    """
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) <= 1:
            return pa.nulls(len(values), target)
        middle = len(values) // 2
        return pa.concat_arrays(
            [_cast_isolating(values[:middle], target), _cast_isolating(values[middle:], target)]
        )


def _keep(values: pa.Array, ok: pa.Array) -> pa.Array:
    return pc.if_else(ok, values, pa.scalar(None, values.type))


def _drop_thousands(values: pa.Array, pattern: str) -> pa.Array:
    grouped = pc.match_substring_regex(values, pattern)
    if not pc.any(grouped).as_py():
        return values
    return pc.if_else(grouped, pc.replace_substring(values, ",", ""), values)


def _fast_temporal(values: pa.Array, field_type: str) -> pa.Array | None:
    """A straight cast when every value is already in a form Arrow parses: the common case, 5x cheaper
    than the normalizing regular expressions."""
    try:
        if field_type == "date":
            return pc.cast(values, pa.date32())
        # A failed cast costs as much as ten good ones, so try first the form the head of the column has.
        zoned = pc.any(pc.match_substring_regex(values[:100], r"(Z|[+-][0-9]{2}:?[0-9]{2})$")).as_py()
        if zoned:
            return pc.cast(values, ARROW_TYPES["datetime"])
        # A naive timestamp cast to a zoned type is read as UTC, as the module promises.
        return pc.cast(pc.cast(values, pa.timestamp("us")), ARROW_TYPES["datetime"])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _fast_number(values: pa.Array, field_type: str) -> pa.Array | None:
    """A straight cast when the whole column is clean numbers, the common case: the validating regular
    expressions cost several times more. Arrow's int cast reads ``0x10`` as 16, so a column holding an
    ``x`` takes the validating path."""
    try:
        if field_type == "int":
            if pc.any(pc.match_substring(values, "x", ignore_case=True)).as_py():
                return None
            return pc.cast(values, pa.int64())
        return pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _fast_point(values: pa.Array) -> pa.Array | None:
    """``lat,lon`` split on the comma and cast, instead of a capturing regular expression per value."""
    parts = pc.split_pattern(values, ",", max_splits=1)
    if pc.any(pc.not_equal(pc.list_value_length(parts), 2)).as_py():
        return None
    try:
        lat = pc.cast(pc.utf8_trim_whitespace(pc.list_element(parts, 0)), pa.float64())
        lon = pc.cast(pc.utf8_trim_whitespace(pc.list_element(parts, 1)), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    ok = pc.and_(
        pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0)),
        pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0)),
    )
    if not pc.all(ok).as_py():
        return None
    return pa.StructArray.from_arrays([lon, lat], fields=list(GEO_POINT), mask=pc.is_null(values))


def _convert_strings(trimmed: pa.Array, blank: pa.Array, field_type: str, strict: bool = False) -> pa.Array:
    """Values of ``field_type``; ``strict`` (guessing) skips the fast casts, which are more lenient
    (``+3`` as a double, ``5.`` as a number...) than what a guess should accept."""
    target = ARROW_TYPES[field_type]
    usable = pc.invert(blank)
    if not strict and field_type in ("int", "double"):
        fast = _fast_number(_keep(trimmed, usable), field_type)
        if fast is not None:
            return fast
    if not strict and field_type == "geo_point_2d":
        fast = _fast_point(_keep(trimmed, usable))
        if fast is not None:
            return fast
    if field_type == "int":
        plain = _drop_thousands(trimmed, _THOUSANDS_INT)
        ok = pc.and_(usable, pc.match_substring_regex(plain, _INT))
        return _cast_isolating(_keep(pc.utf8_ltrim(plain, characters="+"), ok), target)
    if field_type == "double":
        dotted = pc.replace_substring(_drop_thousands(trimmed, _THOUSANDS_DOUBLE), ",", ".")
        ok = pc.and_(usable, pc.match_substring_regex(dotted, _DOUBLE))
        return _cast_isolating(_keep(dotted, ok), target)
    if field_type in ("date", "datetime"):
        fast = _fast_temporal(_keep(trimmed, usable), field_type)
        if fast is not None:
            return fast
    if field_type == "date":
        iso = pc.replace_substring_regex(trimmed, r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$", r"\3-\2-\1")
        iso = pc.replace_substring_regex(iso, r"^([0-9]{4})/([0-9]{2})/([0-9]{2})$", r"\1-\2-\3")
        ok = pc.and_(usable, pc.match_substring_regex(iso, _DATE))
        return _cast_isolating(_keep(iso, ok), target)
    if field_type == "datetime":
        iso = pc.replace_substring_regex(trimmed, r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ", r"\1T")
        ok = pc.and_(usable, pc.match_substring_regex(iso, _DATETIME))
        iso = pc.replace_substring_regex(iso, r"^([0-9-]{10})$", r"\1T00:00:00")
        iso = pc.replace_substring_regex(iso, r"^([0-9-]{10}T[0-9]{2}:[0-9]{2})(Z|[+-].*)?$", r"\1:00\2")
        iso = pc.replace_substring_regex(iso, r"^([0-9-]{10}T[0-9:.]+)$", r"\1Z")
        return _cast_isolating(_keep(iso, ok), target)
    if field_type == "geo_point_2d":
        parts = pc.extract_regex(_keep(trimmed, usable), _GEO_POINT)
        lat = _cast_isolating(pc.struct_field(parts, "lat"), pa.float64())
        lon = _cast_isolating(pc.struct_field(parts, "lon"), pa.float64())
        lat_ok = pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0))
        lon_ok = pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0))
        ok = pc.fill_null(pc.and_(lat_ok, lon_ok), False)
        return pa.StructArray.from_arrays([lon, lat], fields=list(GEO_POINT), mask=pc.invert(ok))
    if field_type == "geo_shape":
        ok = pc.and_(usable, pc.match_substring_regex(trimmed, _GEO_SHAPE))
        return _keep(trimmed, ok)
    raise ValueError(f"unknown field type {field_type!r}")


def _convert_chunk(array: pa.Array, field_type: str) -> tuple[pa.Array, pa.Array]:
    if field_type == "text":
        values = pc.cast(_as_strings(array), pa.string())
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        return values, pa.repeat(pa.scalar(False), len(values))
    target = ARROW_TYPES[field_type]
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        native = _convert_native(array, field_type)
        if native is not None:
            return native, pc.and_(pc.is_valid(array), pc.is_null(native))
    trimmed, blank = _prepare(array)
    converted = _convert_strings(trimmed, blank, field_type)
    if converted.type != target:
        converted = pc.cast(converted, target)
    failed = pc.and_(pc.invert(blank), pc.is_null(converted))
    return converted, failed


def _convert_native(array: pa.Array, field_type: str) -> pa.Array | None:
    """Typed sources (JSON numbers, Parquet columns) convert by cast, not through text."""
    kind = array.type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    if field_type in ("int", "double") and (numeric or pa.types.is_boolean(kind)):
        return _cast_isolating(array, ARROW_TYPES[field_type])
    if field_type == "date" and (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
        return _cast_isolating(array, pa.date32())
    if field_type == "datetime" and (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
        if pa.types.is_timestamp(kind) and kind.tz is None:
            array = pc.assume_timezone(array, "UTC")
        return _cast_isolating(array, ARROW_TYPES["datetime"])
    if field_type == "geo_point_2d" and _is_point_struct(kind):
        lon = pc.cast(pc.struct_field(array, "lon"), pa.float64())
        lat = pc.cast(pc.struct_field(array, "lat"), pa.float64())
        lat_ok = pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0))
        lon_ok = pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0))
        ok = pc.fill_null(pc.and_(pc.is_valid(array), pc.and_(lat_ok, lon_ok)), False)
        return pa.StructArray.from_arrays([lon, lat], fields=list(GEO_POINT), mask=pc.invert(ok))
    return None


def convert_column(array: ArrayLike, field_type: str) -> tuple[ArrayLike, ArrayLike]:
    """``(converted values, mask of values that did not convert)``, chunk by chunk.

    A value that does not convert is null in the result and ``True`` in the mask; empty cells and
    no-data markers are null and ``False``. The result type is ``ARROW_TYPES[field_type]``.
    """
    if field_type not in ARROW_TYPES:
        raise ValueError(f"unknown field type {field_type!r}; expected one of {', '.join(FIELD_TYPES)}")
    if isinstance(array, pa.ChunkedArray):
        # Each compute call costs a fixed overhead per chunk: small chunks (a CSV block is ~10,000
        # rows) are converted together, big ones one by one to bound the temporary copies.
        groups: list[list[pa.Array]] = [[]]
        rows = 0
        for chunk in array.chunks:
            if rows >= _CONVERT_GROUP_ROWS:
                groups.append([])
                rows = 0
            groups[-1].append(chunk)
            rows += len(chunk)
        pairs = [
            _convert_chunk(group[0] if len(group) == 1 else pa.concat_arrays(group), field_type)
            for group in groups
            if group
        ]
        return (
            pa.chunked_array([p[0] for p in pairs], ARROW_TYPES[field_type]),
            pa.chunked_array([p[1] for p in pairs], pa.bool_()),
        )
    return _convert_chunk(array, field_type)


def _native_type(kind: pa.DataType) -> FieldType | None:
    # A boolean is an int (0/1): the reference's field types have no boolean, and 0/1 keeps what text
    # "false" loses (false is falsy in every client; it sums, averages and filters as a truth value).
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return "int"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "double"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return "datetime"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return None
    if _is_point_struct(kind):
        return "geo_point_2d"
    return "text"  # other nested values (structs, lists) are kept as their JSON text (``_as_strings``)


def _is_point_struct(kind: pa.DataType) -> bool:
    """A ``struct<lon, lat>`` of numbers (in either order): how datawharf, GeoParquet-less tools and
    DuckDB write a point; it is a ``geo_point_2d``."""
    if not pa.types.is_struct(kind) or kind.num_fields != 2:
        return False
    fields = {kind.field(i).name: kind.field(i).type for i in range(kind.num_fields)}
    return set(fields) == {"lon", "lat"} and all(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in fields.values()
    )


def common_type(a: str, b: str) -> str:
    """The type two sources of one field are both published as (a union of resources, a glob's sample)."""
    if a == b:
        return a
    if {a, b} == {"int", "double"}:
        return "double"
    if {a, b} == {"date", "datetime"}:
        return "datetime"
    return "text"


def guess_type(array: ArrayLike, *, typed_source: bool = False) -> FieldType:
    """The most specific type that converts (almost) every value of the sample.

    A typed column keeps its type family (an integer stays an int). ``typed_source``: the format types
    its values (everything but CSV), so its strings are text the source chose: ``"75100"`` stays text,
    only the types those formats cannot write (dates, geometries) are guessed."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    native = _native_type(array.type)
    if native is not None:
        return native
    sample = array[:GUESS_SAMPLE_VALUES]
    trimmed, blank = _prepare(sample)
    present = len(sample) - pc.sum(blank).as_py() if len(sample) else 0
    if not present:
        return "text"
    tolerance = 0 if present < 5 else max(1, present // 20)
    filled = pc.if_else(blank, "", trimmed)
    codes = pc.any(pc.match_substring_regex(filled, _LEADING_ZERO)).as_py()
    others: dict[str, int] = {}  # per first-character pattern: present values that do not match it
    for candidate in _TEXT_FAMILY if typed_source else _GUESS_ORDER:
        if codes and candidate in ("int", "double"):
            continue
        pattern = _FIRST_CHARACTER[candidate]
        if pattern not in others:
            matching = pc.sum(pc.match_substring_regex(filled, pattern)).as_py() or 0
            others[pattern] = present - matching
        if others[pattern] > tolerance:
            continue
        converted = _convert_strings(trimmed, blank, candidate, strict=True)
        failed = pc.sum(pc.and_(pc.invert(blank), pc.is_null(converted))).as_py() or 0
        if failed <= tolerance and failed < present:
            return candidate
    return "text"
