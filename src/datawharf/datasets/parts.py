"""A publish's objects spread over workers: a prefix or glob read as part runs, one Parquet part each.

A set of thousands of objects read by one worker is bounded by that worker's cores and network, however
many workers wait idle. When a set has more than ``Settings.split_objects`` objects (200 on the
procrastinate backend), the publish (the *coordinator*) reads the first object itself (its fields make
the schema), then slices the rest of the listing, ``split_objects`` objects or ``PART_BYTES`` listed
bytes per slice, and makes each slice a run of its own (kind ``publish_part`` in the runs table, its
``payload`` the slice's keys, ETags and sizes, the published fields and where to write). Any worker
takes them, the coordinator's included: while it waits it claims the parts still queued and runs them
itself, so a coordinator never waits on a part nobody runs (no deadlock when every slot holds a
coordinator) and a publish finishes on one worker when it is alone.

A part is a run like the others: claimed, beating, fenced, retried when its worker dies (its attempt
is in its file name, ``part-00003-a2.parquet``, so a stale attempt that wakes up can never overwrite the
live one's file; it removes its own when its fence fails). It reads exactly the objects of its payload,
pinned to the listing's ETags (an object replaced meanwhile fails as ``object_changed``), checks each
against the first object's fields (``DATAWHARF_GLOB_MISMATCH``), converts with the version's fields and
writes into the coordinator's staging folder. Its result (file, records, size, bytes read, errors, the
objects with their record counts) goes into its run's ``progress`` at its end; the coordinator adds them
up and switches the version in one transaction, as for an unsplit publish. A part that fails fails the
publish with the part's own error code, and the previous version stays served; an abort or a failure of
the coordinator aborts the parts that have not ended, and its next attempt aborts any left by the one
before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets.control import PUBLISH_PART
from datawharf.datasets.fieldconfig import FieldSpec
from datawharf.datasets.incremental import ObjectRecord
from datawharf.datasets.locate import LocatedObject, LocatedSet, Locator
from datawharf.datasets.objects_writer import KEPT_ERRORS, ObjectsWriter, Source
from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract.fields import field_identities
from datawharf.jobs import runs
from datawharf.jobs.runner import Heartbeat, JobAborted, JobContext, WorkerStopping
from datawharf.jobs.runs import Attempt, StaleAttempt
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models.datasets import Resource
from datawharf.store.models.runs import Run

log = logging.getLogger("datawharf.publish")

PART_BYTES = 512 * 1024 * 1024  # a slice also closes at this many listed bytes: big objects, few a part
WAIT_SECONDS = 0.2  # how often a coordinator looks at its parts
BEAT_SECONDS = 0.5

Submit = Callable[[str, str], None]
"""``submit(part_run_uid, dataset_uid)``: hands a part run to the job backend."""


class PartFailed(ExtractError):
    default_code = "publish_part_failed"


@dataclass
class Spread:
    """A set whose objects after the first go to part runs: what the coordinator slices once the
    fields are known."""

    source: Source
    objects: Iterator[LocatedObject]
    head: list[str]  # the first object's column names: every part's objects are checked against them
    first_key: str


@dataclass
class PartResult:
    """What a part run wrote and read, from its run's ``progress`` once it is ``done``."""

    file: str
    records: int
    size: int
    bytes_read: int
    objects_read: int
    skipped: int
    errors_count: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    objects: list[ObjectRecord] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["objects"] = [dataclasses.asdict(o) for o in self.objects]
        return data

    @classmethod
    def of(cls, progress: dict[str, Any]) -> PartResult:
        data = dict(progress)
        data["objects"] = [ObjectRecord(**o) for o in data.get("objects", [])]
        return cls(**data)


def part_uid(run_uid: str, attempt: int, index: int) -> str:
    """Parts sort by their index within a coordinator's attempt (and never clash across attempts)."""
    return f"{run_uid}-{attempt}-{index:05d}"


def part_file(index: int, attempt: int) -> str:
    return f"part-{index:05d}-a{attempt}.parquet"


def slices(objects: Iterator[LocatedObject], count: int) -> Iterator[list[LocatedObject]]:
    """``objects`` by slices of ``count`` objects or ``PART_BYTES`` listed bytes, whichever comes first;
    the listing is consumed as the slices are taken (bounded memory whatever the set's size)."""
    piece: list[LocatedObject] = []
    size = 0
    for item in objects:
        piece.append(item)
        size += item.size or 0
        if len(piece) >= count or size >= PART_BYTES:
            yield piece
            piece, size = [], 0
    if piece:
        yield piece


def _field_payload(spec: FieldSpec) -> dict[str, Any]:
    data = dataclasses.asdict(spec)
    data["annotations"] = [dict(a) for a in spec.annotations]
    return data


def _field_of(data: dict[str, Any]) -> FieldSpec:
    return FieldSpec(**{**data, "annotations": tuple(data.get("annotations") or ())})


class Coordinator:
    """The coordinator's side: makes the part runs of its spread sets, then gathers them.

    ``writer`` is the publish run (its ``_check`` raises when the publish must stop; its counters and
    errors receive the parts' figures)."""

    def __init__(
        self,
        writer: ObjectsWriter,
        attempt: Attempt,
        dataset_uid: str,
        locator: Locator,
        submit: Submit,
    ) -> None:
        self.writer = writer
        self.attempt = attempt
        self.dataset_uid = dataset_uid
        self.locator = locator
        self.submit = submit
        self.pending: dict[str, Source] = {}  # part run uid -> the source whose objects it reads
        self.files: list[str] = []
        self.bytes_in_flight = 0  # what the running parts have read so far (their beats)

    @property
    def database(self) -> Database:
        return self.writer.database

    @property
    def settings(self) -> Settings:
        return self.writer.settings

    def abort_earlier(self) -> None:
        """Parts an earlier attempt of this publish left running: their results would never be used."""
        with self.database.session() as session:
            if runs.abort_children(session, self.attempt.run_uid):
                log.info("publish %s: parts of an earlier attempt aborted", self.attempt.run_uid)

    def spread(self, spreads: list[Spread], fields: list[FieldSpec], staging: str) -> None:
        """One part run per slice of every spread set, created and handed to the backend as the
        listing goes (a part starts while the set is still being listed)."""
        index = itertools.count(1)  # part 0 is the coordinator's own file
        for spread in spreads:
            for piece in slices(spread.objects, self.settings.split_objects):
                self.writer._check()
                number = next(index)
                uid = part_uid(self.attempt.run_uid, self.attempt.attempt, number)
                payload = {
                    "dataset_uid": self.dataset_uid,
                    "resource_uid": spread.source.resource.uid,
                    "index": number,
                    "staging": staging,
                    "head": spread.head,
                    "first_key": spread.first_key,
                    "fields": [_field_payload(f) for f in fields],
                    "objects": [[o.name, o.etag, o.size] for o in piece],
                }
                with self.database.session() as session:
                    runs.fence(session, self.attempt)  # a superseded coordinator makes no part
                    runs.create_run(
                        session,
                        PUBLISH_PART,
                        self.dataset_uid,
                        run_uid=uid,
                        max_attempts=self.settings.run_max_attempts,
                        parent_uid=self.attempt.run_uid,
                        payload=payload,
                    )
                self.pending[uid] = spread.source
                self.submit(uid, self.dataset_uid)
        if self.pending:
            log.info("publish %s: %d part run(s) queued", self.attempt.run_uid, len(self.pending))

    def gather(self) -> tuple[int, int]:
        """Wait for every part, running the queued ones here; their figures are added to the writer's
        counters and sources. Returns the parts' ``(records, size)``."""
        records = size = 0
        while self.pending:
            self.writer._check()
            queued: list[str] = []
            running: list[str] = []
            with self.database.session() as session:
                for uid, status in runs.child_states(session, self.attempt.run_uid):
                    if uid not in self.pending:
                        continue
                    if status == "done":
                        result = PartResult.of(_row(session, uid).progress)
                        self._add(self.pending.pop(uid), result)
                        records, size = records + result.records, size + result.size
                    elif status in ("failed", "aborted"):
                        raise self._failure(_row(session, uid))
                    elif status == "queued":
                        queued.append(uid)
                    else:
                        running.append(uid)
                beats: list[dict[str, Any]] = (
                    list(session.scalars(select(Run.progress).where(Run.uid.in_(running)))) if running else []
                )
                self.bytes_in_flight = sum(int((beat or {}).get("bytes_done") or 0) for beat in beats)
            if queued:
                self._run_here(queued[0])
            elif self.pending:
                self.writer.context.cancelled.wait(WAIT_SECONDS)
        self.bytes_in_flight = 0
        self.files.sort()  # part-<index>-a<attempt>: the set's key order, whichever part ended first
        return records, size

    def _run_here(self, uid: str) -> None:
        """A queued part run in this thread (its claim decides: another worker may take it first)."""
        signals = self.writer.context
        context = JobContext(uid, cancelled=signals.cancelled, stopping=signals.stopping)
        PartRun(self.database, self.settings, uid, self.locator, context, parent=self.writer).execute()

    def _add(self, source: Source, result: PartResult) -> None:
        counters = self.writer.counters
        counters.bytes_done += result.bytes_read
        counters.records_done += result.records
        counters.errors_count += result.errors_count
        counters.errors.extend(result.errors[: max(0, KEPT_ERRORS - len(counters.errors))])
        self.writer.objects_skipped += result.skipped
        source.objects.extend(result.objects)
        source.objects_read += result.objects_read
        self.files.append(result.file)

    def _failure(self, run: Run) -> DatawharfError:
        payload = run.payload or {}
        keys = [o[0] for o in payload.get("objects", [])]
        where = f"part {payload.get('index')} of the publish ({len(keys)} object(s), {keys[0]} to {keys[-1]})"
        progress = run.progress or {}
        if run.status == "aborted":
            return JobAborted(f"The {where} was aborted; the publish stops.")
        return PartFailed(
            f"{progress.get('message') or run.error or 'the part failed'} (in the {where}, read by "
            f"{run.worker or 'a worker'})",
            error_code=str(progress.get("error_code") or PartFailed.default_code),
        )

    def abort_parts(self) -> None:
        """The coordinator stops: its parts that have not ended stop too (best effort, never raises)."""
        with contextlib.suppress(Exception), self.database.session() as session:
            runs.abort_children(session, self.attempt.run_uid)


class PartRun(ObjectsWriter):
    """One part run: reads the objects of its payload into one Parquet file of the coordinator's
    staging folder; ``execute`` never raises for the part's own failures, it records them."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        run_uid: str,
        locator: Locator,
        context: JobContext,
        *,
        parent: ObjectsWriter | None = None,
    ) -> None:
        super().__init__(database, settings, context)
        self.run_uid = run_uid
        self.locator = locator
        self.parent = parent  # run by its coordinator: it stops as soon as the coordinator must
        self.path: str | None = None

    def _check(self) -> None:
        super()._check()
        if self.parent is not None and (self.parent._abort_seen.is_set() or self.parent._stale.is_set()):
            raise JobAborted("The publish this part belongs to stops; the part stops with it.")

    def execute(self) -> str:
        with self.database.session() as session:
            attempt = runs.claim(session, self.run_uid, runs.worker_id())
            run = runs.get_run(session, self.run_uid)
            payload = dict(run.payload or {}) if run is not None else {}
            resource = session.get(Resource, payload.get("resource_uid")) if payload else None
            if resource is not None:
                session.expunge(resource)
        if attempt is None:
            return "skipped"
        self.attempt = attempt
        with Heartbeat(self._beat, BEAT_SECONDS, name=f"datawharf-heartbeat-{self.run_uid}"):
            return self._run(attempt, payload, resource)

    def _beat(self) -> None:
        assert self.attempt is not None
        if self._stale.is_set():
            return
        with self.database.session() as session:
            beat = runs.beat(
                session,
                self.attempt,
                {"bytes_done": self.counters.bytes_done, "records_done": self.counters.records_done},
            )
        if beat == "stale":
            self._stale.set()
        elif beat == "abort":
            self._abort_seen.set()

    def _run(self, attempt: Attempt, payload: dict[str, Any], resource: Resource | None) -> str:
        located: LocatedSet | None = None
        try:
            if resource is None:
                raise PartFailed(
                    "The resource this part reads was deleted while the publish ran; the previous version "
                    "is still served. Publish again: the dataset's current resources will be read."
                )
            found = self.locator(resource)
            if not isinstance(found, LocatedSet) or found.object_at is None:
                raise PartFailed(
                    f"Resource {resource.uid} no longer names a prefix or glob (its datasource was changed "
                    "while the publish ran); the previous version is still served. Publish again."
                )
            located = found
            object_at = found.object_at
            items = (object_at(key, etag, size) for key, etag, size in payload["objects"])
            head: list[str] = payload["head"]
            source = Source(resource=resource, located=found)
            source.names = [i.name for i in field_identities(head)]
            source.batches = self._following(source, items, head, payload["first_key"])
            source.first = next(source.batches, None)
            name = part_file(int(payload["index"]), attempt.attempt)
            self.path = f"{payload['staging']}/{name}"
            fields = [_field_of(f) for f in payload["fields"]]
            records, size = self._write([source], fields, self.path)
            result = PartResult(
                file=name,
                records=records,
                size=size,
                bytes_read=self.counters.bytes_done,
                objects_read=source.objects_read,
                skipped=self.objects_skipped,
                errors_count=self.counters.errors_count,
                errors=list(self.counters.errors),
                objects=source.objects,
            )
            with self.database.session() as session:
                runs.finish(session, attempt, "done", progress=result.public())
            return "done"
        except StaleAttempt:
            self._remove_file()
            return "stale"
        except WorkerStopping:
            self._remove_file()
            return self._end(lambda session: runs.hand_back(session, attempt))
        except JobAborted:
            self._remove_file()
            return self._end(lambda session: runs.finish(session, attempt, "aborted"))
        except DatawharfError as exc:
            self._remove_file()
            return self._failed(attempt, exc.error_code, exc.message)
        except Exception as exc:  # a bug: recorded, so that the coordinator fails instead of waiting
            log.exception("part %s of a publish failed", self.run_uid)
            self._remove_file()
            return self._failed(attempt, "internal_error", f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            if located is not None:
                with contextlib.suppress(Exception):
                    located.close()

    def _failed(self, attempt: Attempt, code: str, message: str) -> str:
        progress = {"error_code": code, "message": message[:2000]}
        return self._end(
            lambda session: runs.finish(
                session, attempt, "failed", f"[{code}] {message}"[:2000], progress=progress
            )
        )

    def _end(self, write: Callable[[Session], object]) -> str:
        try:
            with self.database.session() as session:
                write(session)
                status = session.scalar(select(Run.status).where(Run.uid == self.run_uid))
            return str(status)
        except StaleAttempt:
            return "stale"

    def _remove_file(self) -> None:
        if self.path is not None:
            with contextlib.suppress(Exception):
                self.warehouse.filesystem.delete_file(self.path)


def _row(session: Session, uid: str) -> Run:
    run = session.get(Run, uid)
    assert run is not None, uid  # a part is never deleted while its coordinator waits
    return run
