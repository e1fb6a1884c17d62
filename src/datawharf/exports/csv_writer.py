"""CSV: Arrow's C++ writer does the quoting and the numbers; only the columns CSV cannot hold as they
are (datetimes in the request's timezone, geo points, non-finite doubles) are turned into text first.

Geo points are written ``lat, lon`` as Opendatasoft's CSV exports do; shapes stay GeoJSON text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datawharf.explore.values import local_datetime
from datawharf.exports.context import ExportContext

BOM = "\ufeff".encode()


def text_safe(array: pa.Array, column_type: str, context: ExportContext) -> pa.Array:
    """The column as a text-only format can hold it: datetimes as ISO text in the request's timezone, geo
    points as ``lat, lon``, non-finite doubles as nulls; other columns as they are."""
    if column_type == "datetime":
        return pa.array(
            [None if v is None else local_datetime(v, context.zone).isoformat() for v in array.to_pylist()],
            pa.string(),
        )
    if column_type == "geo_point_2d":
        return pa.array(
            [
                None if v is None or v.get("lat") is None else f"{v['lat']}, {v['lon']}"
                for v in array.to_pylist()
            ],
            pa.string(),
        )
    if pa.types.is_floating(array.type):
        return pc.if_else(pc.is_finite(array), array, pa.scalar(None, array.type))
    return array


def write_csv(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    quoting = "all_valid" if context.options.quote_all else "needed"  # all_valid: every non-null value
    options = pacsv.WriteOptions(
        include_header=False, delimiter=context.options.delimiter, quoting_style=quoting
    )
    header = io.BytesIO()
    header_table = pa.table({f"c{i}": [name] for i, name in enumerate(context.headers)})
    pacsv.write_csv(header_table, header, write_options=options)
    yield (BOM if context.options.with_bom else b"") + header.getvalue()
    types = [c.type for c in context.columns]
    for batch in batches:
        if batch.num_rows == 0:
            continue
        arrays = [text_safe(batch.column(i), types[i], context) for i in range(batch.num_columns)]
        table = pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])
        out = io.BytesIO()
        pacsv.write_csv(table, out, write_options=options)
        yield out.getvalue()
