"""The publish read of JSON Lines: line-aligned blocks parsed by ``pyarrow.json`` (multi-threaded C++).

Reading record by record in Python (``json.loads`` then one Python object a value) ran at 19 MiB/s; a
block of a few MiB parsed by Arrow's JSON reader is many times faster. The extractor's raw-output
contract (``_records.py``) is kept: a block Arrow cannot read the same way falls back, alone, to the
record-by-record path, so every per-line error, limit and text rendering stays that path's. A block
falls back when Arrow refuses it (invalid line, a column whose type changes inside the block, NaN,
duplicate keys, a line longer than Arrow's block), when it holds nested values (they must become JSON
text as written), blank lines or several values on a line (counted by lines), or digits long enough to
overflow int64 (Arrow would silently make them doubles; the record path keeps them as text: any
double of 2^63 or more sends the block there).

Arrow infers timestamps from ISO strings; the record path keeps strings as written, so such columns are
read again as strings (and as strings up front in the next blocks). Columns only ever get added, in
first-seen order; a column all null in a batch is text, as in ``_records.column_array``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from datawharf.errors import ExtractError
from datawharf.extract._records import column_array
from datawharf.extract.base import ReadOptions

BLOCK_BYTES = 8 * 1024 * 1024
_ARROW_BLOCK = 1024 * 1024
_INT64_LIMIT = 2.0**63  # Arrow reads a bigger integer as a double; the record path keeps it as text
_NEWLINE = ord("\n")

Records = Callable[..., Iterator[dict[str, Any]]]
Lines = Iterator[tuple[int, bytes]]


def blocks(stream: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, bytes]]:
    """``(lines before the block, block)``: whole lines (the last block may lack its newline).

    Reads are at most ``max_line_bytes``, so only the line carried over from the previous read can
    outgrow the limit: it is measured, and refused, before it is held whole.
    """
    size = max(1, min(BLOCK_BYTES, max_line_bytes))
    carry = b""
    base = 0
    first = True
    while True:
        data = stream.read(size)
        if first:
            first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        if not data:
            if carry:
                yield base, carry
            return
        newline = data.find(b"\n")
        if len(carry) + (len(data) if newline < 0 else newline) > max_line_bytes:
            raise ExtractError(
                f"Line {base + 1} is longer than {max_line_bytes // (1024 * 1024)} MiB: this is not "
                "JSON Lines (one record per line); choose the JSON extractor if it is one document.",
                error_code="record_too_long",
                detail={"row": base + 1},
            )
        if newline < 0:
            carry += data
            continue
        cut = data.rfind(b"\n") + 1
        # One copy at most (a whole read is its own block): the blocks are 8 MiB.
        block = b"".join((carry, memoryview(data)[:cut])) if carry or cut < len(data) else data
        carry = data[cut:]
        yield base, block
        base += newlines(block)


def newlines(block: bytes) -> int:
    """The ``\\n`` in ``block``: numpy counts 8 MiB in 1.5 ms, ``bytes.count`` in 5 (twice per block)."""
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE))


def block_lines(base: int, block: bytes) -> Lines:
    """``(line number, line)`` for each non-blank line, numbered as ``jsonl._lines`` numbers them."""
    for index, raw in enumerate(block.split(b"\n")):
        line = raw.strip(b" \t\r\x1e")
        if line:
            yield base + index + 1, line


def all_lines(parts: Iterable[tuple[int, bytes]]) -> Lines:
    for base, block in parts:
        yield from block_lines(base, block)


class _Parser:
    """Arrow's parse of one block, or None when the block must take the record path."""

    def __init__(self) -> None:
        self.as_text: set[str] = set()  # columns Arrow reads as timestamps: kept as strings

    def _read(self, block: bytes, as_text: set[str]) -> pa.Table:
        schema = pa.schema([(name, pa.string()) for name in sorted(as_text)]) if as_text else None
        return pajson.read_json(
            pa.BufferReader(block),  # no copy (BytesIO copied the 8 MiB)
            read_options=pajson.ReadOptions(use_threads=True, block_size=_ARROW_BLOCK),
            parse_options=pajson.ParseOptions(explicit_schema=schema, newlines_in_values=False),
        )

    def parse(self, block: bytes) -> pa.Table | None:
        lines = newlines(block) + (0 if block.endswith(b"\n") else 1)
        try:
            inferred = self._read(block, self.as_text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if not self.as_text:
                return None
            try:  # one of those columns holds numbers here: let Arrow infer this block afresh
                inferred = self._read(block, set())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
        if inferred.num_rows != lines:
            return None
        stamps = {
            f.name for f in inferred.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
        }
        if any(pa.types.is_nested(f.type) for f in inferred.schema) or _beyond_int64(inferred):
            return None
        if not stamps:
            return inferred
        self.as_text |= stamps
        try:
            table = self._read(block, stamps)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return table.select(inferred.column_names)  # the order of first appearance, not the schema's


def _beyond_int64(table: pa.Table) -> bool:
    """A double this big may have been an integer beyond int64 (or a float: the record path decides)."""
    for column in table.columns:
        if pa.types.is_floating(column.type):
            largest = pc.max(pc.abs(column)).as_py()
            if largest is not None and largest >= _INT64_LIMIT:
                return True
    return False


def full_batches(
    parts: Iterable[tuple[int, bytes]],
    options: ReadOptions,
    constants: dict[str, str] | None,
    records: Records,
) -> Iterator[pa.RecordBatch]:
    """The publish read of ``blocks(...)``; ``records`` is ``jsonl._records`` (the per-line path, for
    fallback blocks)."""
    columns: dict[str, None] = {}
    seen = False
    for base, block, table in _parsed_ahead(parts):
        if table is None:
            rows = records(block_lines(base, block), first=not seen)
            for batch in _row_batches(rows, columns, options, constants):
                seen = True
                yield batch
            continue
        if table.num_rows == 0:
            continue
        seen = True
        for name in table.column_names:
            columns.setdefault(name, None)
        for batch in table.combine_chunks().to_batches(max_chunksize=options.batch_size):
            yield _shaped(batch, columns, constants)
    if not seen:
        raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")


def _parsed_ahead(parts: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes, pa.Table | None]]:
    """``(base, block, Arrow's parse or None)`` in order, the next block parsed while the caller works
    on this one: Arrow's threads otherwise idled while the consumer shaped, converted and queued each
    block's batches (2.4 s for the bench's 356 MiB file, of which the parse is 1.4 CPU s). One parse
    ahead: a block and its table more in memory."""
    parser = _Parser()  # its state (columns read as text) follows the blocks in order: one worker
    iterator = iter(parts)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datawharf-jsonl-parse") as pool:
        pending: deque[tuple[int, bytes, Future[pa.Table | None]]] = deque()

        def submit_next() -> None:
            part = next(iterator, None)
            if part is not None:
                pending.append((part[0], part[1], pool.submit(parser.parse, part[1])))

        submit_next()
        try:
            while pending:
                base, block, parsed = pending.popleft()
                submit_next()
                yield base, block, parsed.result()
        finally:
            for _, _, parsed in pending:
                parsed.cancel()


def _text_if_empty(array: pa.Array) -> pa.Array:
    if array.null_count == len(array) or pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return array


def _shaped(
    batch: pa.RecordBatch, columns: dict[str, None], constants: dict[str, str] | None
) -> pa.RecordBatch:
    rows = batch.num_rows
    present = set(batch.schema.names)
    arrays = [
        _text_if_empty(batch.column(name)) if name in present else pa.nulls(rows, pa.string())
        for name in columns
    ]
    names = list(columns)
    for name, value in (constants or {}).items():
        arrays.append(pa.array([value] * rows, pa.string()))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _row_batches(
    rows: Iterator[dict[str, Any]],
    columns: dict[str, None],
    options: ReadOptions,
    constants: dict[str, str] | None,
) -> Iterator[pa.RecordBatch]:
    """Records of a fallback block as ``_records.dict_batches`` builds them, sharing the column order."""
    pending: list[dict[str, Any]] = []

    def build() -> pa.RecordBatch:
        arrays = [column_array([r.get(c) for r in pending]) for c in columns]
        names = list(columns)
        for name, value in (constants or {}).items():
            arrays.append(pa.array([value] * len(pending), pa.string()))
            names.append(name)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    for row in rows:
        for key in row:
            columns.setdefault(key, None)
        pending.append(row)
        if len(pending) >= options.batch_size:
            yield build()
            pending = []
    if pending:
        yield build()
