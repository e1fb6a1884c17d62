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

Reading and writing (step 2's extractors, a set's objects checked against the first one's fields,
step 3) live in ``objects_writer.py``, shared with the part runs of a prefix or glob spread over workers
(``parts.py``): then this run reads the set's first object, queues the rest as part runs, runs the ones
still queued itself while it waits, and switches to a version made of its file and theirs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from datawharf.datasets import incremental, parts, versions
from datawharf.datasets.control import claim_run
from datawharf.datasets.fastpath import (
    tune_memory_pool,
)
from datawharf.datasets.fieldconfig import FieldSpec, apply_configurations, stack
from datawharf.datasets.incremental import Plan
from datawharf.datasets.locate import LocatedObject, LocatedSet, Locator
from datawharf.datasets.metadata import touch_modified
from datawharf.datasets.metadata_edits import mark_published
from datawharf.datasets.objects_writer import Counters, ObjectsWriter, Source, closing, counted
from datawharf.datasets.resources import fingerprint
from datawharf.datasets.service import set_status
from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract.fields import field_identities
from datawharf.extract.params import missing as missing_params
from datawharf.extract.registry import EXTRACTORS, typed_source
from datawharf.extract.types import common_type, guess_type
from datawharf.jobs import runs
from datawharf.jobs.runner import Heartbeat, JobAborted, JobContext, WorkerStopping
from datawharf.jobs.runs import StaleAttempt
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset, DatasetVersion, FieldConfiguration, Resource
from datawharf.store.warehouse import is_disk_full

if TYPE_CHECKING:
    from datawharf.datasets.status import DatasetStatus

log = logging.getLogger("datawharf.publish")

PROGRESS_SECONDS = 0.5
PART_FILE = "part-00000.parquet"


class ObjectChangedSinceVersion(DatawharfError):
    default_code = "object_changed"


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


class PublishRun(ObjectsWriter):
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
        submit_part: parts.Submit | None = None,
    ) -> None:
        super().__init__(database, settings, context or JobContext(run_uid))
        self.dataset_uid = dataset_uid
        self.run_uid = run_uid
        self.locator = locator
        self.on_progress = on_progress
        self.bytes_total: int | None = None
        self.plan: Plan | None = None  # a publish "only if changed" of a prefix or glob (incremental.py)
        # A set spread over workers (parts.py): only when the job backend can take part runs.
        self.submit_part = submit_part if settings.split_objects else None
        self.spreads: list[parts.Spread] = []
        self.coordinator: parts.Coordinator | None = None

    # --- state in the database -------------------------------------------------------------------

    @contextlib.contextmanager
    def _fenced_session(self) -> Iterator[Session]:
        """A session whose first statement fences this run's attempt (``StaleAttempt`` if it lost the
        run): every write the run makes goes through one."""
        assert self.attempt is not None, "the run writes only after its claim"
        with self.database.session() as session:
            runs.fence(session, self.attempt)
            yield session

    def _bytes_done(self) -> int:
        """This run's bytes read, and those its running parts have read so far."""
        return self.counters.bytes_done + (self.coordinator.bytes_in_flight if self.coordinator else 0)

    def _progress(self) -> dict[str, Any]:
        return {
            "bytes_done": self._bytes_done(),
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
                    bytes_done=self._bytes_done(),
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

    def _set(self, status: DatasetStatus, message: str | None = None) -> None:
        with self._fenced_session() as session:
            dataset = session.get(Dataset, self.dataset_uid)
            if dataset is not None and dataset.run_uid == self.run_uid:
                set_status(dataset, status, message)

    # --- the run ---------------------------------------------------------------------------------

    def execute(self) -> str:
        """Runs to the end; returns the final status (``idle`` or ``error``)."""
        with self.database.session() as session:
            attempt = claim_run(session, self.dataset_uid, self.run_uid, runs.worker_id())
        if attempt is None:
            return "skipped"
        self.attempt = self.context.attempt = attempt
        if self.submit_part is not None:
            self.coordinator = parts.Coordinator(
                self, attempt, self.dataset_uid, self.locator, self.submit_part
            )
            self.coordinator.abort_earlier()
        with Heartbeat(self._beat, PROGRESS_SECONDS, name=f"datawharf-heartbeat-{self.run_uid}"):
            return self._run()

    def _run(self) -> str:
        staging = None
        sources: list[Source] = []
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
                sources.append(Source(resource=resource, located=self.locator(resource)))
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
            if self.spreads:
                assert self.coordinator is not None
                self.coordinator.spread(self.spreads, fields, staging)
            records, size = self._write(reading, fields, f"{staging}/{PART_FILE}")
            if self.coordinator is not None:
                part_records, part_size = self.coordinator.gather()
                records, size = records + part_records, size + part_size
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
            if self.coordinator is not None and self.coordinator.pending:
                self.coordinator.abort_parts()  # the run ended before its parts did: they stop too
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
        sources: list[Source],
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

    def _appending(self, sources: list[Source], plan: Plan) -> list[Source]:
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
        self, sources: list[Source], configurations: list[tuple[str, dict[str, Any]]]
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

    def _open_set(self, source: Source, located: LocatedSet) -> None:
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
            own = counted(closing(batches, stream), record)
            split = self.settings.split_objects if self.submit_part is not None else 0
            if split:
                ahead = list(itertools.islice(objects, split + 1))
                if len(ahead) > split:  # more than one part's worth: the rest goes to part runs
                    self.spreads.append(
                        parts.Spread(source, itertools.chain(ahead, objects), head, item.name)
                    )
                    source.batches = own
                    return
                objects = iter(ahead)
            source.batches = itertools.chain(own, self._following(source, objects, head, item.name))
            return

    def _save(
        self,
        data_uid: str,
        fields: list[FieldSpec],
        identities: list[dict[str, Any]],
        config_hash: str,
        records: int,
        size: int,
        sources: list[Source],
        current: DatasetVersion | None,
    ) -> str:
        written = [PART_FILE, *(self.coordinator.files if self.coordinator else [])]
        files, new_records, kept = written, records, []
        if self.plan is not None and self.plan.kind == "append" and current is not None:
            # The current version's parts, referenced (incremental.py): only the new objects were read.
            files = [*incremental.carried_files(current), *written]
            records += current.records_count
            self.counters.errors_count += current.errors_count
            kept = self.plan.kept
        final = self.warehouse.finish_version(self.dataset_uid, data_uid, written)
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
