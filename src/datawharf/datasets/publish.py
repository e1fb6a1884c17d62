"""The publish run: objects -> extractor -> field configuration -> typed Arrow -> Parquet version.

One run, resource by resource:

1. claim the run (``queued`` -> ``processing``), HEAD every object (ETag, size, Last-Modified);
   with "only if changed", stop here when the objects and the configuration are those of the current
   version;
2. open every object as a sequential stream (overlapping ranged GETs pinned to the HEAD's ETag: an
   object replaced mid-run fails as ``object_changed``), peel compression/archives, start its extractor
   and read its first batch: the fields (technical names, guessed types) of all resources make the
   schema (union by name), then the field configuration stack applies;
3. convert each batch column by column in Arrow compute (a value that does not convert becomes null
   plus a per-record error, the kept ones capped) and write Parquet by row groups into a staging folder;
4. ``saving_version``: rename the folder into place, then one transaction records the version and
   switches the dataset to it.

Memory stays bounded whatever the size: the reader holds ``concurrency x chunk`` bytes, the extractor a
block, the writer one row group. A failure or an abort removes the staging folder and leaves the
previous version served; the status says why. Progress (bytes read from the objects, records written)
goes to the run's and the dataset's rows twice a second, with a heartbeat, from a thread of its own
(``Heartbeat``): a run blocked in a stalled read still beats, and fails when the read times out
(``s3_read_timeout``), not as a dead worker. That beat is also when an abort requested from another
process is noticed. The same transaction that records a version deletes those beyond ``versions_keep``
(``versions.py``).

Exactly one effect per run: the claim returns the run's attempt, and every write the run makes (the
beat, each status, the failure, the version switch) fences on it first, in the same transaction
(``jobs/runs.fence``). An attempt superseded meanwhile (its worker was taken for dead and the run
retried) raises ``StaleAttempt``: it stops, removes its own staging files and never touches the
dataset row. A worker stopping gracefully hands the run back (queued again), it does not abort it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from datawharf.datasets import incremental, set_reader, versions
from datawharf.datasets.control import claim_run
from datawharf.datasets.fastpath import (
    BackgroundWriter,
    convert_batch,
    dictionary_columns,
    ordered_map,
    tune_memory_pool,
)
from datawharf.datasets.fieldconfig import FieldSpec, apply_configurations, stack
from datawharf.datasets.incremental import ObjectRecord, Plan
from datawharf.datasets.locate import LocatedObject, LocatedSet, Locator
from datawharf.datasets.metadata import touch_modified
from datawharf.datasets.metadata_edits import mark_published
from datawharf.datasets.resources import fingerprint
from datawharf.datasets.service import set_status
from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract.archive import open_content
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv_parallel import read_parallel
from datawharf.extract.fields import field_identities
from datawharf.extract.params import missing as missing_params
from datawharf.extract.registry import EXTRACTORS, typed_source
from datawharf.extract.types import ARROW_TYPES, common_type, guess_type
from datawharf.jobs import runs
from datawharf.jobs.runner import Heartbeat, JobAborted, JobContext, WorkerStopping
from datawharf.jobs.runs import Attempt, StaleAttempt
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, DatasetVersion, FieldConfiguration, Resource
from datawharf.store.warehouse import is_disk_full, make_warehouse

if TYPE_CHECKING:
    from datawharf.datasets.status import DatasetStatus

log = logging.getLogger("datawharf.publish")

KEPT_ERRORS = 100  # per-record errors kept in the status; the count goes on
ROW_GROUP_ROWS = 262_144
# The pending group is the biggest buffer of a run: 64 MiB cost ~90 MB of peak RSS more than 16 MiB.
ROW_GROUP_BYTES = 16 * 1024 * 1024
PROGRESS_SECONDS = 0.5
PART_FILE = "part-00000.parquet"


def worker_id() -> str:
    """``host:pid``: lets a restarted server tell which in-flight runs died with their process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_is_dead(worker: str | None) -> bool:
    if not worker:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: its heartbeat decides
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ObjectChangedSinceVersion(DatawharfError):
    default_code = "object_changed"


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
class _Source:
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


class IncrementalFieldsDiffer(ExtractError):
    default_code = "incremental_fields_differ"


def _as_in(current: DatasetVersion, fields: list[FieldSpec]) -> list[FieldSpec]:
    """The fields of an incremental part: the current version's, in its order and types (its parts
    and the new one make one table), each read from the new objects' column of that name."""
    read = {f.name: f for f in fields}
    extra = sorted(set(read) - {f["name"] for f in current.fields})
    if extra:
        raise IncrementalFieldsDiffer(
            f"The new objects have fields the current version {current.uid} does not: {', '.join(extra)}. "
            "Publish without 'only if changed' to rebuild the dataset with them.",
            detail={"extra": extra},
        )
    kept = []
    for public in current.fields:
        spec = read.get(public["name"])
        source = spec.source if spec is not None else ""  # absent from the new objects: null
        kept.append(
            FieldSpec(
                name=public["name"],
                label=public.get("label") or public["name"],
                type=public.get("type", "text"),
                source=source,
                original_name=public.get("original_name", ""),
                description=public.get("description"),
                annotations=tuple(public.get("annotations") or ()),
            )
        )
    return kept


def _identity(located: LocatedObject | LocatedSet) -> dict[str, Any]:
    """What the version records of a source: one object's ETag and size, or a set's pattern."""
    if isinstance(located, LocatedObject):
        return located.identity()
    return {"etag": None, "size": None, "last_modified": None, "pattern": located.pattern.text}


def _counted(batches: Iterator[pa.RecordBatch], record: ObjectRecord) -> Iterator[pa.RecordBatch]:
    """``batches``, their rows added to the object's record (the first batch is counted already)."""
    for batch in batches:
        record.records += batch.num_rows
        yield batch


def _closing(batches: Iterator[pa.RecordBatch], stream: BinaryIO) -> Iterator[pa.RecordBatch]:
    """``batches``, then ``stream`` closed: a set's object is released as soon as it is read."""
    try:
        yield from batches
    finally:
        stream.close()


class PublishRun:
    """One run of one dataset; ``execute`` never raises for the run's own failures: it records them."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        dataset_uid: str,
        run_uid: str,
        locator: Locator,
        context: JobContext | None = None,
        *,
        on_progress: Callable[[Counters, int | None], None] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.dataset_uid = dataset_uid
        self.run_uid = run_uid
        self.locator = locator
        self.context = context or JobContext(run_uid)
        self.on_progress = on_progress
        self.warehouse = make_warehouse(settings)
        self.counters = Counters()
        self.bytes_total: int | None = None
        self.objects_skipped = 0
        self.attempt: Attempt | None = None
        self.plan: Plan | None = None  # a publish "only if changed" of a prefix or glob (incremental.py)
        self._abort_seen = threading.Event()
        self._stale = threading.Event()

    # --- state in the database -------------------------------------------------------------------

    @contextlib.contextmanager
    def _fenced_session(self) -> Iterator[Session]:
        """A session whose first statement fences this run's attempt (``StaleAttempt`` if it lost the
        run): every write the run makes goes through one."""
        assert self.attempt is not None, "the run writes only after its claim"
        with self.database.session() as session:
            runs.fence(session, self.attempt)
            yield session

    def _progress(self) -> dict[str, Any]:
        return {
            "bytes_done": self.counters.bytes_done,
            "bytes_total": self.bytes_total,
            "records_done": self.counters.records_done,
            "errors_count": self.counters.errors_count,
        }

    def _beat(self) -> None:
        """Progress and heartbeat to the run's and the dataset's rows, fenced; notices an abort requested
        elsewhere, and that this attempt lost the run (then it writes nothing more).

        Called by the run's ``Heartbeat`` thread: the counters it reads are plain ints that the run's
        thread updates.
        """
        if self.on_progress is not None:
            self.on_progress(self.counters, self.bytes_total)
        assert self.attempt is not None
        if self._stale.is_set():
            return
        with self.database.session() as session:
            beat = runs.beat(session, self.attempt, self._progress())
            if beat == "stale":
                self._stale.set()
                return
            session.execute(
                update(Dataset)
                .where(Dataset.uid == self.dataset_uid, Dataset.run_uid == self.run_uid)
                .values(
                    bytes_done=self.counters.bytes_done,
                    bytes_total=self.bytes_total,
                    records_done=self.counters.records_done,
                    errors_count=self.counters.errors_count,
                    heartbeat_at=utcnow(),
                )
            )
            status = session.scalar(
                select(Dataset.status).where(Dataset.uid == self.dataset_uid, Dataset.run_uid == self.run_uid)
            )
        if beat == "abort" or status in (None, "aborting_processing"):
            self._abort_seen.set()

    def _check(self) -> None:
        if self._stale.is_set():
            assert self.attempt is not None
            raise StaleAttempt(f"Run {self.run_uid} attempt {self.attempt.attempt} was superseded.")
        if self._abort_seen.is_set():
            raise JobAborted("Publish aborted on request.")
        self.context.check()

    def _set(self, status: DatasetStatus, message: str | None = None) -> None:
        with self._fenced_session() as session:
            dataset = session.get(Dataset, self.dataset_uid)
            if dataset is not None and dataset.run_uid == self.run_uid:
                set_status(dataset, status, message)

    # --- the run ---------------------------------------------------------------------------------

    def execute(self) -> str:
        """Runs to the end; returns the final status (``idle`` or ``error``)."""
        with self.database.session() as session:
            attempt = claim_run(session, self.dataset_uid, self.run_uid, worker_id())
        if attempt is None:
            return "skipped"
        self.attempt = self.context.attempt = attempt
        with Heartbeat(self._beat, PROGRESS_SECONDS, name=f"datawharf-heartbeat-{self.run_uid}"):
            return self._run()

    def _run(self) -> str:
        staging = None
        sources: list[_Source] = []
        try:
            with self.database.session() as session:
                dataset = session.get(Dataset, self.dataset_uid)
                assert dataset is not None
                resources = list(
                    session.scalars(
                        select(Resource)
                        .where(Resource.dataset_uid == self.dataset_uid)
                        .order_by(Resource.position, Resource.created_at)
                    )
                )
                configurations = stack(
                    list(
                        session.scalars(
                            select(FieldConfiguration)
                            .where(FieldConfiguration.dataset_uid == self.dataset_uid)
                            .order_by(FieldConfiguration.position)
                        )
                    )
                )
                only_if_changed = dataset.run_only_if_changed
                current = (
                    session.get(DatasetVersion, dataset.current_version_uid)
                    if dataset.current_version_uid
                    else None
                )
                session.expunge_all()
            if not resources:
                raise ExtractError("The dataset has no resource to publish.", error_code="no_resource")
            config_hash = fingerprint(resources, configurations)
            for resource in resources:
                self._check()
                sources.append(_Source(resource=resource, located=self.locator(resource)))
            singles = [s.located for s in sources if isinstance(s.located, LocatedObject)]
            # A prefix or glob is listed as it is read: its total is not known before the end.
            self.bytes_total = sum(o.size or 0 for o in singles) if len(singles) == len(sources) else None
            identities = [{"resource_uid": s.resource.uid, **_identity(s.located)} for s in sources]
            if only_if_changed and current is not None and self._unchanged(current, identities, config_hash):
                return self._finish_unchanged(current)
            reading = sources
            if (
                only_if_changed
                and current is not None
                and any(isinstance(s.located, LocatedSet) for s in sources)
            ):
                self.plan = self._incremental(current, sources, identities, config_hash)
                if self.plan.kind == "unchanged":
                    return self._finish_unchanged(current)
                if self.plan.kind == "append":
                    reading = self._appending(sources, self.plan)
                    self.bytes_total = sum(o.size or 0 for new in self.plan.new.values() for o in new)
            data_uid = new_uid("ch")
            staging = self.warehouse.start_version(self.dataset_uid, data_uid)
            tune_memory_pool()  # before the extractors start allocating
            fields = self._open_all(reading, configurations)
            if self.plan is not None and self.plan.kind == "append" and current is not None:
                fields = _as_in(current, fields)
            records, size = self._write(reading, fields, f"{staging}/{PART_FILE}")
            for source, identity in zip(sources, identities, strict=True):
                if isinstance(source.located, LocatedSet):
                    identity["objects"] = len(source.objects) + sum(
                        1
                        for o in (self.plan.kept if self.plan else [])
                        if o.resource_uid == source.resource.uid
                    )
            self._check()
            self._set("saving_version")
            return self._save(data_uid, fields, identities, config_hash, records, size, sources, current)
        except StaleAttempt:
            # Superseded: the live attempt owns the dataset row; this one only removes its own files.
            log.warning("publish %s of %s: attempt superseded, stopped", self.run_uid, self.dataset_uid)
            self._discard(staging)
            return "stale"
        except WorkerStopping:
            self._discard(staging)
            return self._hand_back()
        except JobAborted:
            self._discard(staging)
            self._fail("idle", "Publish aborted; the previous version (if any) is still served.")
            return "idle"
        except DatawharfError as exc:
            self._discard(staging)
            self._fail("error", f"Publish failed [{exc.error_code}]: {exc.message}")
            return "error"
        except OSError as exc:
            self._discard(staging)
            if is_disk_full(exc):
                error = self.warehouse.full_error()
                self._fail("error", f"Publish failed [{error.error_code}]: {error.message}")
            else:
                self._fail("error", f"Publish failed [io_error]: {type(exc).__name__}: {exc}"[:1000])
            return "error"
        except Exception as exc:  # a bug: record it, never leave the dataset "processing"
            log.exception("publish %s of %s failed", self.run_uid, self.dataset_uid)
            self._discard(staging)
            self._fail("error", f"Publish failed [internal_error]: {type(exc).__name__}: {exc}"[:1000])
            return "error"
        finally:
            for source in sources:
                with contextlib.suppress(Exception):
                    if source.stream is not None:
                        source.stream.close()
                with contextlib.suppress(Exception):
                    source.located.close()

    def _unchanged(self, current: DatasetVersion, identities: list[dict[str, Any]], config_hash: str) -> bool:
        if current.config_hash != config_hash:
            return False
        before = {s.get("resource_uid"): (s.get("etag"), s.get("size")) for s in current.sources}
        now = {s["resource_uid"]: (s["etag"], s["size"]) for s in identities}
        return before == now and all(etag for etag, _ in now.values())

    def _incremental(
        self,
        current: DatasetVersion,
        sources: list[_Source],
        identities: list[dict[str, Any]],
        config_hash: str,
    ) -> Plan:
        with self.database.session() as session:
            held = incremental.current_objects(session, current.uid)
        plan = incremental.plan(
            held,
            self.settings,
            current,
            [(s.resource.uid, s.located) for s in sources],
            identities,
            config_hash,
        )
        if plan.kind == "rebuild":
            log.info(
                "publish %s of %s rebuilds the whole version: %s", self.run_uid, self.dataset_uid, plan.reason
            )
        return plan

    def _appending(self, sources: list[_Source], plan: Plan) -> list[_Source]:
        """The sources an incremental publish reads: each set restricted to its new objects."""
        reading = []
        for source in sources:
            new = plan.new.get(source.resource.uid)
            if new and isinstance(source.located, LocatedSet):
                source.located = incremental.only_new(source.located, new)
                reading.append(source)
        return reading

    def _finish_unchanged(self, current: DatasetVersion) -> str:
        with self._fenced_session() as session:
            assert self.attempt is not None
            runs.finish(session, self.attempt, "done")
            dataset = session.get(Dataset, self.dataset_uid)
            assert dataset is not None
            mark_published(dataset)  # a publish publishes the metadata, even with the data unchanged
            set_status(
                dataset,
                "idle",
                f"No change: the objects' ETag and size and the configuration are those of version "
                f"{current.uid}, which is still served. Nothing was published.",
            )
            dataset.run_uid = None
        return "idle"

    def _open_all(
        self, sources: list[_Source], configurations: list[tuple[str, dict[str, Any]]]
    ) -> list[FieldSpec]:
        """Start every extractor and read its first batch: the fields of all of them make the schema."""
        union: dict[str, FieldSpec] = {}
        for source in sources:
            self._check()
            resource = source.resource
            extractor = EXTRACTORS.get(resource.type)
            if extractor is None:
                raise ExtractError(
                    f"Resource {resource.uid} uses the unknown extractor {resource.type!r}.",
                    error_code="unknown_extractor",
                )
            absent = missing_params(resource.type, resource.params)
            if absent:  # saved before parameters were guessed at creation: never publish with defaults
                raise ExtractError(
                    f"Resource {resource.uid} does not set {', '.join(absent)}: GET it and PUT it back (the "
                    "missing parameters are guessed then and stored), preview it, then publish.",
                    error_code="resource_params_incomplete",
                    detail={"resource_uid": resource.uid, "missing": absent},
                )
            if isinstance(source.located, LocatedSet):
                self._open_set(source, source.located)
            else:
                source.stream, source.batches, source.first = self._start(resource, source.located)
            if source.first is None:
                continue
            identities = field_identities(source.first.schema.names)
            source.names = [i.name for i in identities]
            for identity, column in zip(identities, source.first.columns, strict=True):
                field_type = guess_type(column, typed_source=typed_source(resource.type))
                source.types[identity.name] = field_type
                known = union.get(identity.name)
                if known is None:
                    union[identity.name] = FieldSpec(
                        name=identity.name,
                        label=identity.label,
                        type=field_type,
                        source=identity.name,
                        original_name=identity.original_name,
                    )
                else:
                    union[identity.name] = FieldSpec(
                        name=known.name,
                        label=known.label,
                        type=common_type(known.type, field_type),
                        source=known.source,
                        original_name=known.original_name,
                    )
        fields = apply_configurations(list(union.values()), configurations)
        if not fields:
            raise ExtractError(
                "Nothing to publish: the resources yield no field (empty files, or every field deleted "
                "by the field configuration).",
                error_code="no_fields",
            )
        return fields

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

    def _open_set(self, source: _Source, located: LocatedSet) -> None:
        """The first object with records makes the fields of a prefix or glob; the others follow it."""
        objects = located.objects()
        for item in objects:
            self._check()
            stream, batches, first = self._start(source.resource, item, filename=item.name)
            record = self._held(source, item)
            if first is None:
                stream.close()
                continue
            source.stream, source.first = stream, first
            source.objects_read = 1
            record.records = first.num_rows
            head = first.schema.names
            source.batches = itertools.chain(
                _counted(_closing(batches, stream), record),
                self._following(source, objects, head, item.name),
            )
            return

    def _held(self, source: _Source, item: LocatedObject) -> ObjectRecord:
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
        self, source: _Source, objects: Iterator[LocatedObject], head: list[str], first_key: str
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
                    self._mismatch(source, item, first_key, expected, names)
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
        self, source: _Source, item: LocatedObject, first_key: str, expected: list[str], names: list[str]
    ) -> None:
        key = item.name
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
        # Recorded with the version (no record, the reason): the next refresh knows it (incremental.py).
        record = ObjectRecord(source.resource.uid, key, item.etag, item.size, skipped=message)
        source.objects.append(record)
        self._list_skipped(record)

    def _list_skipped(self, record: ObjectRecord) -> None:
        """A skipped object in the run's errors: skipped by this run, or carried on by an append."""
        self.objects_skipped += 1
        if self.objects_skipped <= KEPT_ERRORS:
            self.counters.errors.append(
                {
                    "record_id": f"{record.resource_uid}:{record.key}",
                    "field_uid": None,
                    "processor_uid": None,
                    "value": record.key,
                    "message": f"{record.skipped} It was skipped.",
                }
            )

    def _write(self, sources: list[_Source], fields: list[FieldSpec], path: str) -> tuple[int, int]:
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
        self, raw: pa.Array, failed: pa.Array, failures: int, spec: FieldSpec, source: _Source, row_base: int
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

    def _save(
        self,
        data_uid: str,
        fields: list[FieldSpec],
        identities: list[dict[str, Any]],
        config_hash: str,
        records: int,
        size: int,
        sources: list[_Source],
        current: DatasetVersion | None,
    ) -> str:
        files, new_records, kept = [PART_FILE], records, []
        if self.plan is not None and self.plan.kind == "append" and current is not None:
            # The current version's parts, referenced (incremental.py): only the new objects were read.
            files = [*incremental.carried_files(current), PART_FILE]
            records += current.records_count
            self.counters.errors_count += current.errors_count
            kept = self.plan.kept
            for held in kept:
                if held.skipped:  # still skipped: still listed
                    self._list_skipped(held)
        final = self.warehouse.finish_version(self.dataset_uid, data_uid, [PART_FILE])  # the ones written
        try:
            with self._fenced_session() as session:
                dataset = session.scalars(
                    select(Dataset).where(Dataset.uid == self.dataset_uid).with_for_update()
                ).one()
                if dataset.run_uid != self.run_uid or dataset.status != "saving_version":
                    raise JobAborted("The run lost its dataset (aborted or deleted) before saving.")
                now = utcnow()
                session.add(
                    DatasetVersion(
                        uid=data_uid,
                        dataset_uid=self.dataset_uid,
                        created_at=now,
                        sections=["data"],
                        data_uid=data_uid,
                        files=files,
                        fields=[f.public() for f in fields],
                        records_count=records,
                        size_bytes=size,
                        errors_count=self.counters.errors_count,
                        sources=identities,
                        config_hash=config_hash,
                    )
                )
                session.flush()
                incremental.record_objects(
                    session, data_uid, itertools.chain(kept, *(s.objects for s in sources))
                )
                dataset.current_version_uid = data_uid
                dataset.is_published = True
                dataset.published_at = now
                dataset.metadata_ = touch_modified(dataset.metadata_, now)
                mark_published(dataset)
                dataset.bytes_done = self.counters.bytes_done
                dataset.bytes_total = self.bytes_total
                dataset.records_done = new_records  # this run's work, as bytes_done is
                dataset.errors_count = self.counters.errors_count
                dataset.records_errors = list(self.counters.errors)
                errors = self.counters.errors_count
                note = f" {errors} value(s) did not convert and were published as null." if errors else ""
                if self.objects_skipped:
                    skipped = self.objects_skipped
                    note += f" {skipped} object(s) whose fields differ were skipped (see the errors)."
                if kept and current is not None:
                    note += (
                        f" {new_records} record(s) from {sum(s.objects_read for s in sources)} new object(s) "
                        f"appended to the {current.records_count} of version {current.uid}, whose files "
                        "it shares."
                    )
                set_status(dataset, "idle", f"Published version {data_uid}: {records} records.{note}")
                dataset.run_uid = None
                pruned = versions.apply_retention(session, self.settings, dataset)
                assert self.attempt is not None
                runs.finish(session, self.attempt, "done")
        except BaseException:
            self.warehouse.discard(final)
            raise
        self._remove_pruned(pruned)
        return "idle"

    def _remove_pruned(self, data_uids: set[str]) -> None:
        """The files of the versions the retention deleted; a failure is only logged (the publish is
        committed, and the warehouse sweep removes what is left)."""
        try:
            with self.database.session() as session:
                versions.remove_unreferenced_files(session, self.settings, self.dataset_uid, data_uids)
        except Exception:
            log.exception("could not remove the files of the old versions of %s", self.dataset_uid)

    def _recorded_bytes(self) -> int:
        with self.database.session() as session:
            return versions.recorded_bytes(session)

    def _discard(self, staging: Any) -> None:
        if staging is not None:
            self.warehouse.discard(staging)

    def _hand_back(self) -> str:
        """The worker stops: the run is queued again for the next worker (its dataset too), or, if an
        abort was requested meanwhile, ends aborted. Returns the dataset's status."""
        assert self.attempt is not None
        try:
            with self._fenced_session() as session:
                outcome = runs.hand_back(session, self.attempt)
                dataset = session.get(Dataset, self.dataset_uid)
                if dataset is None or dataset.run_uid != self.run_uid:
                    return "skipped"
                if outcome == "queued":
                    set_status(dataset, "queued", "The worker stopped; the publish waits for the next one.")
                    dataset.run_worker = None
                    return "queued"
                set_status(dataset, "idle", "Publish aborted; the previous version (if any) is still served.")
                dataset.run_uid = None
                return "idle"
        except StaleAttempt:
            return "stale"
        except Exception:
            log.exception("could not hand back run %s", self.run_uid)
            return "error"

    def _fail(self, status: DatasetStatus, message: str) -> None:
        try:
            with self._fenced_session() as session:
                assert self.attempt is not None
                runs.finish(
                    session, self.attempt, "aborted" if status == "idle" else "failed", message[:2000]
                )
                dataset = session.get(Dataset, self.dataset_uid)
                if dataset is None or dataset.run_uid != self.run_uid:
                    return
                set_status(dataset, status, message[:2000])
                dataset.bytes_done = self.counters.bytes_done
                dataset.bytes_total = self.bytes_total
                dataset.records_done = self.counters.records_done
                dataset.errors_count = self.counters.errors_count
                dataset.records_errors = list(self.counters.errors)
                dataset.run_uid = None
        except StaleAttempt:
            log.warning(
                "publish %s of %s: attempt superseded, its failure not recorded",
                self.run_uid,
                self.dataset_uid,
            )
        except Exception:
            log.exception("could not record the failure of run %s", self.run_uid)
