"""The publish run's type conversion, Parquet layout and memory pool: what makes a publish fast.

Batches are converted on a small thread pool (``ordered_map``), in order, at most ``ahead`` of the
writer: Arrow compute and the Parquet writer release the GIL, so conversion and writing run on one core
while the parallel CSV reader's threads parse on the other. ``ahead`` stays at one on a 2-core machine
(measured: more costs memory, not time); a bigger machine can raise it and ``workers``.

The Parquet writer runs on a thread of its own (``BackgroundWriter``): while it encodes and compresses
one row group, the next batches are parsed and converted. Writing in the consumer's thread made every
row group a pause of ~40 ms in which the parsers, out of free slots, idled a core.

The conversion is ``extract.types.convert_column`` column by column, unchanged, so a published value and
its per-record error are those of the sequential run. Two shortcuts with the same results: a text column
that holds no empty string (the parallel CSV reader already made empty cells null) is its own
conversion, so a long free-text column is not copied; a number or date column that one plain cast
converts whole skips the trimming and no-data lookups (``_direct``).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datawharf.datasets.fieldconfig import FieldSpec
from datawharf.extract.types import ARROW_TYPES, GEO_POINT, convert_column

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 2
# Batches converted ahead of the writer. One keeps conversion and writing on one core while the CSV
# reader's threads parse on the other; two cost ~30 MB of peak RSS for no measurable speed here.
AHEAD = 1

_tuned = threading.Lock()
JEMALLOC_DECAY_MS = 100


def tune_memory_pool() -> str:
    """Arrow's memory from jemalloc rather than mimalloc, once per process; returns the backend in use.

    A publish allocates and frees blocks on half a dozen threads; mimalloc keeps each thread's freed
    pages, jemalloc gives them back after its decay. Measured on a 256 MiB publish: peak RSS 436 ->
    386 MB, and a third of the system time (fewer fresh pages to fault in). The decay is shortened
    from Arrow's default (1 s, longer than a whole publish of 256 MiB) to ``JEMALLOC_DECAY_MS``: freed
    pages go back within a few blocks, 40 MB less at peak for no measurable time (0 ms saves 40 MB
    more but re-faults every block: +15% of the run). A backend chosen on purpose
    (``ARROW_DEFAULT_MEMORY_POOL=system``) is kept; so is mimalloc where jemalloc is not built in.
    """
    with _tuned:
        if pa.default_memory_pool().backend_name == "mimalloc":
            with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc
                pa.set_memory_pool(pa.jemalloc_memory_pool())
                pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)
        return pa.default_memory_pool().backend_name


@dataclass
class Failure:
    """The values of one field of one batch that did not convert."""

    spec: FieldSpec
    raw: pa.Array
    failed: pa.Array
    count: int


@dataclass
class Converted:
    batch: pa.RecordBatch
    rows: int
    failures: list[Failure] = field(default_factory=list)


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], *, workers: int = WORKERS, ahead: int = AHEAD
) -> Iterator[R]:
    """``function`` over ``items`` on a thread pool; results in the order of ``items``, at most ``ahead``
    pending. Items are pulled by the caller's thread, so a generator of items needs no locking."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datawharf-convert")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def dictionary_columns(batch: pa.RecordBatch, names: list[str], fields: list[FieldSpec]) -> list[str]:
    """Fields worth Parquet's dictionary encoding: those repeating their values in the first batch.

    The writer otherwise tries a dictionary on every column and gives up on each distinct one (ids,
    timestamps, free text) once the dictionary page is full, row group after row group. Measured on the
    bench's 256 MiB file: writing 0.45 -> 0.38 s of CPU, and a smaller file (29 -> 26 MiB).
    """
    position = {name: i for i, name in enumerate(names)}
    chosen = []
    for spec in fields:
        index = position.get(spec.source)
        if index is None or spec.type in ("geo_point_2d", "geo_shape"):
            continue
        column = batch.column(index)
        if pa.types.is_nested(column.type):  # no distinct-count kernel for a struct or a list
            continue
        present = len(column) - column.null_count
        if present and pc.count_distinct(column).as_py() <= present // 2:
            chosen.append(spec.name)
    return chosen


def _text_unchanged(column: pa.Array) -> bool:
    """A string column without ``""``: converting it to text changes nothing."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return False
    if column.null_count == len(column):
        return True
    return not pc.any(pc.equal(column, "")).as_py()


def _direct(raw: pa.Array, field_type: str) -> pa.Array | None:
    """The column converted by one cast of the raw strings, when that cast accepts every value.

    Five to eight times cheaper than ``convert_column``, which first trims, lower-cases and looks up the
    no-data markers. The result is then ``convert_column``'s: a value the cast accepts is a number or an
    ISO date, so no marker is among them (but ``nan``, which a double cast accepts and the markers make
    null: such a column takes the full path), and ``convert_column`` ends in the same cast. Hexadecimal
    (``0x10``, which Arrow's int cast reads) takes the full path too, as in ``convert_column``.
    """
    if not pa.types.is_string(raw.type) or raw.null_count == len(raw):
        return None
    try:
        if field_type == "int":
            # Two plain searches cost less than one ignoring case (0.04 vs 0.10 s on 2 million values).
            if pc.any(pc.match_substring(raw, "x")).as_py() or pc.any(pc.match_substring(raw, "X")).as_py():
                return None
            return pc.cast(raw, pa.int64())
        if field_type == "double":
            values = pc.cast(raw, pa.float64())
            return None if pc.any(pc.is_nan(values)).as_py() else values
        if field_type == "date":
            return pc.cast(raw, pa.date32())
        if field_type == "datetime":
            zoned = pc.any(pc.match_substring_regex(raw[:100], r"(Z|[+-][0-9]{2}:?[0-9]{2})$")).as_py()
            if zoned:
                return pc.cast(raw, ARROW_TYPES["datetime"])
            return pc.cast(pc.cast(raw, pa.timestamp("us")), ARROW_TYPES["datetime"])
        if field_type == "geo_point_2d":
            return _direct_point(raw)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def _direct_point(raw: pa.Array) -> pa.Array | None:
    """``lat,lon`` split once and cast, as ``convert_column``'s own fast path does after trimming; any
    value it cannot take (a marker, a space, out of range, NaN) sends the column to the full path."""
    parts = pc.split_pattern(raw, ",", max_splits=1)
    if pc.any(pc.not_equal(pc.list_value_length(parts), 2)).as_py():
        return None
    lat = pc.cast(pc.list_element(parts, 0), pa.float64())
    lon = pc.cast(pc.list_element(parts, 1), pa.float64())
    ok = pc.and_(
        pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0)),
        pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0)),
    )
    if not pc.all(ok).as_py():
        return None
    return pa.StructArray.from_arrays([lon, lat], fields=list(GEO_POINT), mask=pc.is_null(raw))


def convert_batch(
    batch: pa.RecordBatch, position: dict[str, int], fields: list[FieldSpec], schema: pa.Schema
) -> Converted:
    """Every field of ``batch`` in its published type, and what did not convert."""
    columns: list[pa.Array] = []
    failures: list[Failure] = []
    for spec in fields:
        index = position.get(spec.source)
        if index is None:
            columns.append(pa.nulls(batch.num_rows, ARROW_TYPES[spec.type]))
            continue
        raw = batch.column(index)
        if spec.type == "text" and _text_unchanged(raw):
            columns.append(raw if raw.type == pa.string() else pc.cast(raw, pa.string()))
            continue
        direct = _direct(raw, spec.type)
        if direct is not None:
            columns.append(direct)
            continue
        values, failed = convert_column(raw, spec.type)
        count = pc.sum(failed).as_py() or 0
        if count:
            failures.append(Failure(spec, raw, failed, count))
        columns.append(values)
    return Converted(pa.RecordBatch.from_arrays(columns, schema=schema), batch.num_rows, failures)


class BackgroundWriter:
    """A ``ParquetWriter`` fed row group by row group, each written on one background thread.

    At most one row group is being written while the caller builds the next: ``write`` waits for the
    previous one first (and raises its error), so memory holds two groups at most. ``after_write`` runs
    on the writer thread after each group (the warehouse's room check), its exception delivered the same
    way.
    """

    def __init__(self, writer: pq.ParquetWriter, after_write: Callable[[], None] | None = None) -> None:
        self.writer = writer
        self.after_write = after_write
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datawharf-parquet-write")
        self._pending: Future[None] | None = None

    def _write(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=max(1, table.num_rows))
        if self.after_write is not None:
            self.after_write()

    def wait(self) -> None:
        """Until the row group in writing is written; raises what writing it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def write(self, table: pa.Table) -> None:
        self.wait()
        self._pending = self._pool.submit(self._write, table)

    def close(self) -> None:
        """Writes what is pending and the footer; the thread is gone afterwards, whatever happened."""
        try:
            self.wait()
            self.writer.close()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def abandon(self) -> None:
        """After a failure: stop without raising; the file is discarded by the caller."""
        with contextlib.suppress(Exception):
            self.wait()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.writer.close()
