"""Reading the objects of a source and writing them as one Parquet part: what a publish and its parts share.

A publish (``publish.py``) reads every resource into one part; a publish whose set of objects is spread
over workers (``parts.py``) has each part run read a slice of the set into its own part file. Both read
an object the same way (compression and archives peeled, the extractor started, CSV parsed on several
threads), check a set's objects against the first one's fields, convert the batches to the published
types and write them by row groups: that is this class, so that the two runs cannot drift apart.

Memory stays bounded whatever the size: the reader holds ``concurrency x chunk`` bytes, the extractor a
block, the writer one row group.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datawharf.datasets import set_reader, versions
from datawharf.datasets.fastpath import BackgroundWriter, convert_batch, dictionary_columns, ordered_map
from datawharf.datasets.fieldconfig import FieldSpec
from datawharf.datasets.incremental import ObjectRecord
from datawharf.datasets.locate import LocatedObject, LocatedSet
from datawharf.errors import ExtractError
from datawharf.extract.archive import open_content
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv_parallel import read_parallel
from datawharf.extract.fields import field_identities
from datawharf.extract.registry import EXTRACTORS
from datawharf.extract.types import ARROW_TYPES
from datawharf.jobs.runner import JobAborted, JobContext
from datawharf.jobs.runs import Attempt, StaleAttempt
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.datasets import Resource
from datawharf.store.warehouse import make_warehouse

KEPT_ERRORS = 100  # per-record errors kept in the status; the count goes on
ROW_GROUP_ROWS = 262_144
# The pending group is the biggest buffer of a run: 64 MiB cost ~90 MB of peak RSS more than 16 MiB.
ROW_GROUP_BYTES = 16 * 1024 * 1024


@dataclass
class Counters:
    bytes_done: int = 0
    records_done: int = 0
    errors_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


_COUNTING_LOCK = threading.Lock()


class _Counting:
    """Reports how far into its object the extractor has read (the high-water mark, so that a peek
    and a seek back are not counted twice), for the progress figure. Adds what it advances, under a
    lock: the objects of a set are read on several threads at once (``set_reader.py``)."""

    def __init__(self, raw: BinaryIO, counters: Counters) -> None:
        self._raw, self._counters = raw, counters
        self._high = 0

    def _advance(self) -> None:
        position = self._raw.tell()
        if position > self._high:
            with _COUNTING_LOCK:
                self._counters.bytes_done += position - self._high
            self._high = position

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self._advance()
        return data

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self._advance()
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


@dataclass
class Source:
    resource: Resource
    located: LocatedObject | LocatedSet
    batches: Iterator[pa.RecordBatch] | None = None
    first: pa.RecordBatch | None = None
    names: list[str] = field(default_factory=list)  # technical names, by raw column position
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (label, original)
    types: dict[str, str] = field(default_factory=dict)
    stream: BinaryIO | None = None
    objects_read: int = 0  # a prefix or glob: the objects whose records were published
    objects: list[ObjectRecord] = field(default_factory=list)  # a prefix or glob: what the version holds


class ObjectFieldsDiffer(ExtractError):
    default_code = "object_fields_differ"


def counted(batches: Iterator[pa.RecordBatch], record: ObjectRecord) -> Iterator[pa.RecordBatch]:
    """``batches``, their rows added to the object's record (the first batch is counted already)."""
    for batch in batches:
        record.records += batch.num_rows
        yield batch


def closing(batches: Iterator[pa.RecordBatch], stream: BinaryIO) -> Iterator[pa.RecordBatch]:
    """``batches``, then ``stream`` closed: a set's object is released as soon as it is read."""
    try:
        yield from batches
    finally:
        stream.close()


class ObjectsWriter:
    """The reading and writing half of a run (a publish, or one part of it); the subclass claims the
    run, beats and records the outcome. ``_check`` is called between batches: it raises when the run
    was superseded, aborted or its worker is stopping."""

    run_uid: str

    def __init__(self, database: Database, settings: Settings, context: JobContext) -> None:
        self.database = database
        self.settings = settings
        self.context = context
        self.warehouse = make_warehouse(settings)
        self.counters = Counters()
        self.objects_skipped = 0
        self.attempt: Attempt | None = None
        self._abort_seen = threading.Event()
        self._stale = threading.Event()

    def _check(self) -> None:
        if self._stale.is_set():
            assert self.attempt is not None
            raise StaleAttempt(f"Run {self.run_uid} attempt {self.attempt.attempt} was superseded.")
        if self._abort_seen.is_set():
            raise JobAborted("Publish aborted on request.")
        self.context.check()

    def _start(
        self,
        resource: Resource,
        located: LocatedObject,
        *,
        filename: str | None = None,
        parse_threads: int | None = None,
    ) -> tuple[BinaryIO, Iterator[pa.RecordBatch], pa.RecordBatch | None]:
        """One object opened, its extractor started: ``(stream, batches, first batch)``."""
        extractor = EXTRACTORS[resource.type]
        raw = _Counting(located.open(), self.counters)
        content, inner = open_content(raw, located.name, dict(resource.params))  # type: ignore[arg-type]
        options = ReadOptions(filename=filename or inner, spreadsheet=self.settings.spreadsheet_limits)
        # CSV is parsed on every core by record-aligned blocks (same records as extractor.read).
        read: Callable[..., Iterator[Any]]
        if resource.type == "csvfile":
            read = functools.partial(read_parallel, workers=parse_threads or self.settings.parse_threads)
        else:
            read = extractor.read
        batches = iter(read(content, dict(resource.params), options))
        return raw, batches, next(batches, None)  # type: ignore[return-value]

    def _held(self, source: Source, item: LocatedObject) -> ObjectRecord:
        """The object as the version will record it (its records counted as they are read)."""
        record = ObjectRecord(source.resource.uid, item.name, item.etag, item.size)
        source.objects.append(record)
        return record

    def _read_whole(self, resource: Resource, item: LocatedObject) -> list[pa.RecordBatch]:
        """A small object of a set, read to its end on a ``set_reader`` thread (one parse thread: the
        set's objects are the parallelism)."""
        self._check()
        stream, batches, first = self._start(resource, item, filename=item.name, parse_threads=1)
        try:
            return [] if first is None else [first, *batches]
        finally:
            stream.close()

    def _following(
        self, source: Source, objects: Iterator[LocatedObject], head: list[str], first_key: str
    ) -> Iterator[pa.RecordBatch]:
        """The batches of the set's other objects, columns in the first object's order; an object whose
        fields differ fails the run or is skipped and listed (``DATAWHARF_GLOB_MISMATCH``). Small
        objects are read ``set_read_threads`` at once, in order (``set_reader.py``)."""
        expected = [i.name for i in field_identities(head)]
        loaded = set_reader.read_objects(
            objects,
            functools.partial(self._read_whole, source.resource),
            workers=self.settings.set_read_threads,
        )
        for entry in loaded:
            self._check()
            item = entry.item
            if isinstance(entry, set_reader.Whole):
                stream = None
                first = entry.batches[0] if entry.batches else None
                batches: Iterator[pa.RecordBatch] = iter(entry.batches[1:])
            else:
                stream, batches, first = self._start(source.resource, item, filename=item.name)
            try:
                if first is None:
                    self._held(source, item)
                    continue
                names = [i.name for i in field_identities(first.schema.names)]
                if set(names) != set(expected) or len(names) != len(expected):
                    self._mismatch(source, item.name, first_key, expected, names)
                    continue
                record = self._held(source, item)
                order = [names.index(name) for name in expected]
                source.objects_read += 1
                for batch in itertools.chain([first], batches):
                    record.records += batch.num_rows
                    yield pa.RecordBatch.from_arrays([batch.column(i) for i in order], names=head)
            finally:
                if stream is not None:
                    stream.close()

    def _mismatch(
        self, source: Source, key: str, first_key: str, expected: list[str], names: list[str]
    ) -> None:
        missing = [name for name in expected if name not in names]
        extra = [name for name in names if name not in expected]
        reason = (
            f"missing {', '.join(missing) or 'nothing'}; extra {', '.join(extra) or 'nothing'}"
            if missing or extra
            else "a field name repeats"
        )
        message = f"The object {key} does not have the fields of {first_key} ({reason})."
        if self.settings.glob_mismatch == "fail":
            raise ObjectFieldsDiffer(
                f"{message} Make the files share their fields, narrow the glob, or set "
                "DATAWHARF_GLOB_MISMATCH=skip to publish the others and list this one in the run's errors.",
                detail={"key": key, "missing": missing, "extra": extra},
            )
        self.objects_skipped += 1
        if self.objects_skipped <= KEPT_ERRORS:
            self.counters.errors.append(
                {
                    "record_id": f"{source.resource.uid}:{key}",
                    "field_uid": None,
                    "processor_uid": None,
                    "value": key,
                    "message": f"{message} It was skipped.",
                }
            )

    def _write(self, sources: list[Source], fields: list[FieldSpec], path: str) -> tuple[int, int]:
        schema = pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in fields])
        used_before = 0
        if self.warehouse.max_bytes is not None:
            used_before = self.warehouse.used_bytes(self._recorded_bytes)
        sink = self.warehouse.filesystem.open_output_stream(path)
        dictionary = next(
            (dictionary_columns(s.first, s.names, fields) for s in sources if s.first is not None), []
        )
        writer = BackgroundWriter(
            pq.ParquetWriter(
                sink, schema, compression="zstd", write_statistics=True, use_dictionary=dictionary
            ),
            after_write=lambda: self.warehouse.check_room(used_before, sink.tell()),
        )
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        pending_bytes = 0
        records = 0

        def flush_group() -> None:
            nonlocal pending, pending_rows, pending_bytes
            if not pending:
                return
            writer.write(pa.Table.from_batches(pending, schema))
            pending, pending_rows, pending_bytes = [], 0, 0

        try:
            for source in sources:
                if source.first is None or source.batches is None:
                    continue
                position = {name: i for i, name in enumerate(source.names)}
                row_base = 0
                # Batches converted on a thread pool ahead of the writer (fastpath.py), in order.
                convert = functools.partial(convert_batch, position=position, fields=fields, schema=schema)
                threads = self.settings.convert_threads
                batches = itertools.chain([source.first], source.batches)
                for converted in ordered_map(convert, batches, workers=threads, ahead=threads):
                    self._check()
                    for failure in converted.failures:
                        self._record_errors(
                            failure.raw, failure.failed, failure.count, failure.spec, source, row_base
                        )
                    row_base += converted.rows
                    records += converted.rows
                    self.counters.records_done = records
                    pending.append(converted.batch)
                    pending_rows += converted.rows
                    pending_bytes += converted.batch.nbytes
                    if pending_rows >= ROW_GROUP_ROWS or pending_bytes >= ROW_GROUP_BYTES:
                        flush_group()
                source.first = None
            flush_group()
            writer.close()
            size = sink.tell()
            sink.close()
            self.warehouse.check_room(used_before, size)
        except BaseException:
            writer.abandon()
            with contextlib.suppress(Exception):
                sink.close()
            raise
        return records, size

    def _record_errors(
        self, raw: pa.Array, failed: pa.Array, failures: int, spec: FieldSpec, source: Source, row_base: int
    ) -> None:
        self.counters.errors_count += failures
        room = KEPT_ERRORS - len(self.counters.errors)
        if room <= 0:
            return
        rows = pc.indices_nonzero(failed)[:room]
        values = pc.take(raw, rows).to_pylist()
        for row, value in zip(rows.to_pylist(), values, strict=True):
            shown = str(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            self.counters.errors.append(
                {
                    "record_id": f"{source.resource.uid}:{row_base + row + 1}",
                    "field_uid": spec.name,
                    "processor_uid": None,
                    "value": shown,
                    "message": f"Value {shown!r} of field {spec.name!r} is not a valid {spec.type}; "
                    "it was published as null.",
                }
            )

    def _recorded_bytes(self) -> int:
        with self.database.session() as session:
            return versions.recorded_bytes(session)
