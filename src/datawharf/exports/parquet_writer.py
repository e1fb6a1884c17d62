"""Parquet: DuckDB's Arrow batches written as they come, one row group each, the bytes handed on as
soon as the writer produces them (the footer last). Types stay the warehouse's: datetimes are UTC
instants, geo points ``struct<lon, lat>``, shapes GeoJSON text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from datawharf.exports.context import ExportContext


class _Drain:
    """A write-only file whose bytes are taken away after each batch: only one row group is held."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def write_parquet(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Drain()
    schema = pa.schema(
        [field.with_name(header) for field, header in zip(context.schema, context.headers, strict=True)]
    )
    with pq.ParquetWriter(sink, schema, compression=context.options.parquet_compression) as writer:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            chunk = sink.take()
            if chunk:
                yield chunk
    yield sink.take()
