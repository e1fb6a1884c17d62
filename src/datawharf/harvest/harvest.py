"""The harvest pass: the datasets of a harvester in step with its bucket, once, idempotently.

    run_harvest(database, settings, harvester_uid, submit) -> report

1. list the prefix or glob (no lock held: a listing of many pages must not hold the database);
2. lock the harvester row (``FOR UPDATE`` on PostgreSQL, SQLite's write lock), read its key -> dataset
   map fresh, and for each key:
   - new: create the dataset (id and title from the key, ``datasets/service.py``) with one resource
     (the key's URL, the harvester's connection, extractor and params) and queue its publish;
   - still there: queue an "if changed" publish (a full one if it is not published: it came back,
     or its first publish failed);
   - gone: unpublish it, never delete it (restorable: publishing it again brings it back);
   a dataset busy with a run is left for the next pass; an error on one key is recorded under that key
   and the others go on;
3. commit, then hand the queued runs to ``submit`` (the runtime's workers).

Two passes at once (two processes, or "run now" during a scheduled pass): the second waits for the
lock, then finds the keys the first mapped and their datasets queued, so it creates nothing twice.
Datasets a user deleted by hand are made again from their key (their map row points nowhere).

Each pass is a run (``harvest/control.py``): claimed at its start, beating on a thread while it lists,
fenced in the transaction that saves its keys (so a pass recovered as dead, or superseded, saves
nothing), and ended there. An abort (``control.request_abort``, or this process's job signal) is seen
between listing pages and between keys: the pass stops, its transaction rolled back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.apikeys import ADMIN_PERMISSIONS
from datawharf.datasets import control, locate, resources, service
from datawharf.datasets.service import RESTING
from datawharf.errors import DatawharfError, InvalidInput
from datawharf.harvest import control as passes
from datawharf.harvest import naming
from datawharf.harvest.service import as_metadata, get_harvester, target_of
from datawharf.jobs import runs
from datawharf.jobs.runner import Heartbeat, JobAborted, JobContext
from datawharf.jobs.runs import StaleAttempt
from datawharf.s3.listing import ListedObject, list_pages
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import HarvestedDataset, Harvester

log = logging.getLogger("datawharf.harvest")

Submit = Callable[[str, str], None]  # (dataset_uid, run_uid): hand a queued publish to a worker
MAX_KEYS = 10_000  # datasets one harvester may hold: a wrong prefix must not make a million
BEAT_SECONDS = 1.0  # the pass's heartbeat: well inside DATAWHARF_JOB_STALE_SECONDS


def source_keys(mode: str, objects: Iterable[ListedObject], base_key: str) -> Iterator[str]:
    """The keys a listing names in ``mode``: each object's, or each first-level folder's (once)."""
    seen: set[str] = set()
    for listed in objects:
        key = listed.key if mode == "object" else naming.folder_of(listed.key, base_key)
        if key is not None and key not in seen:
            seen.add(key)
            yield key


def _list_keys(
    database: Database, settings: Settings, harvester_uid: str, check: Callable[[], None]
) -> tuple[list[str], tuple[str, str]]:
    """The source keys the harvester's URL names now (objects, or first-level folders), and its folder
    as a key and as a URL (``naming.key_folder``, ``naming.url_folder``). ``check`` between pages."""
    with database.session() as session:
        harvester = get_harvester(session, harvester_uid)
        target = target_of(session, settings, harvester)
        session.expunge(harvester)
    pattern = target.pattern
    assert pattern is not None
    base_key = naming.key_folder(pattern.listing_prefix)
    keys: list[str] = []
    client = locate.client_of(settings, target)

    def checked() -> Iterator[ListedObject]:
        for matched, _listed in list_pages(client, target.location.bucket, pattern):
            check()
            yield from matched

    try:
        for key in source_keys(harvester.mode, checked(), base_key):
            keys.append(key)
            if len(keys) > MAX_KEYS:
                raise InvalidInput(
                    f"The harvester's URL names more than {MAX_KEYS} "
                    f"{'objects' if harvester.mode == 'object' else 'folders'}: narrow its prefix or glob.",
                    error_code="harvester_too_many_keys",
                )
    finally:
        client.close()
    return keys, (base_key, naming.url_folder(harvester.url))


def _create(session: Session, settings: Settings, harvester: Harvester, named: naming.Named) -> Dataset:
    metadata = as_metadata(harvester.forced_metas or {})
    metadata.setdefault("default", {})["title"] = {"value": named.title}
    dataset = service.create_dataset(
        session,
        metadata=metadata,
        dataset_id=named.dataset_id,
        is_restricted=harvester.restrict_datasets_visibility,
    )
    datasource = {
        "type": "amazon_s3",
        "url": named.url,
        "connection": {"uid": harvester.connection_uid} if harvester.connection_uid else None,
    }
    try:
        resources.create_resource(
            session,
            settings,
            dataset.uid,
            type=harvester.extractor_type,
            title=named.title,
            params=dict(harvester.params or {}),
            datasource=datasource,
            permissions=ADMIN_PERMISSIONS,
        )
    except Exception:
        session.delete(dataset)  # one unit of work per key: no dataset without its resource
        session.flush()
        raise
    return dataset


def _reconcile(
    session: Session,
    settings: Settings,
    harvester_uid: str,
    keys: list[str],
    base: tuple[str, str],
    check: Callable[[], None],
) -> tuple[dict[str, int], dict[str, str], list[tuple[str, str]]]:
    """Step 2 of the module docstring, under the harvester's lock: counts, errors by key, queued runs.
    ``check`` before each key (it raises to stop the pass)."""
    harvester = get_harvester(session, harvester_uid, for_update=True)
    mapped = {
        row.source_key: row
        for row in session.scalars(
            select(HarvestedDataset)
            .where(HarvestedDataset.harvester_uid == harvester_uid)
            .execution_options(populate_existing=True)
        )
    }
    counts = {"created": 0, "refreshed": 0, "republished": 0, "unpublished": 0, "busy": 0, "errors": 0}
    errors: dict[str, str] = {}
    queued: list[tuple[str, str]] = []
    listed = set(keys)

    def fail(key: str, exc: Exception) -> None:
        counts["errors"] += 1
        errors[key] = exc.message if isinstance(exc, DatawharfError) else "Unexpected error (see the log)."
        if not isinstance(exc, DatawharfError):
            log.exception("harvester %s: key %r failed", harvester_uid, key)

    for key in keys:
        check()
        row = mapped.get(key)
        dataset = session.get(Dataset, row.dataset_uid) if row is not None else None
        try:
            if row is None or dataset is None:
                named = naming.name_key(
                    key,
                    base_key=base[0],
                    base_url=base[1],
                    dataset_id_template=harvester.dataset_id_template,
                    title_template=harvester.title_template,
                )
                dataset = _create(session, settings, harvester, named)
                if row is None:
                    row = HarvestedDataset(
                        harvester_uid=harvester_uid, source_key=key, dataset_uid=dataset.uid
                    )
                    session.add(row)
                row.dataset_uid, row.present = dataset.uid, True
                control.request_publish(session, dataset.uid, max_attempts=settings.run_max_attempts)
                counts["created"] += 1
            else:
                dataset = service.get_dataset(session, dataset.uid, for_update=True)
                if dataset.status not in RESTING:
                    counts["busy"] += 1
                    continue
                again = not dataset.is_published
                control.request_publish(
                    session, dataset.uid, only_if_changed=not again, max_attempts=settings.run_max_attempts
                )
                row.present = True
                counts["republished" if again else "refreshed"] += 1
            session.flush()
            if dataset.run_uid:
                queued.append((dataset.uid, dataset.run_uid))
        except Exception as exc:  # one key's failure (unreadable object, bad CSV...) stops no other
            fail(key, exc)
    for key, row in mapped.items():
        if key in listed or not row.present:
            continue
        try:
            gone = session.get(Dataset, row.dataset_uid)
            if gone is not None:
                gone = service.get_dataset(session, gone.uid, for_update=True)
                if gone.status not in RESTING:
                    counts["busy"] += 1
                    continue  # unpublished at the next pass, once its run ends
                if gone.is_published:
                    control.request_unpublish(session, gone.uid)
                    counts["unpublished"] += 1
            row.present = False
            session.flush()
        except Exception as exc:
            fail(key, exc)
    harvester.remote_count = len(keys)
    return counts, errors, queued


class _Pass:
    """One pass's run: claimed, beaten on a thread, checked for an abort, fenced, ended."""

    def __init__(self, database: Database, harvester_uid: str, context: JobContext | None) -> None:
        self.database = database
        self.harvester_uid = harvester_uid
        self.context = context
        self.attempt: runs.Attempt | None = None
        self._abort_seen = threading.Event()
        # Set while the pass saves its keys: its transaction holds the run's row (fenced), which keeps
        # any recovery off it, so the beat (which would only wait for that lock) stands aside.
        self.saving = threading.Event()

    def claim(self, run_uid: str | None) -> datetime | None:
        """The run claimed and the harvester ``processing``; None if the run is not there to claim
        (aborted before it started, claimed by another process)."""
        started = utcnow()
        with self.database.session() as session:
            if run_uid is None:
                run_uid = new_uid("ru")
                runs.create_run(session, passes.HARVEST, self.harvester_uid, run_uid=run_uid, max_attempts=1)
            self.attempt = runs.claim(session, run_uid, runs.worker_id())
            if self.attempt is None:
                return None
            harvester = get_harvester(session, self.harvester_uid)
            harvester.status, harvester.last_started_at = "processing", started
        return started

    def beat(self) -> None:
        assert self.attempt is not None
        if self.saving.is_set():
            return
        with self.database.session() as session:
            beat = runs.beat(session, self.attempt, {})
        if beat != "go":
            self._abort_seen.set()

    def check(self) -> None:
        if self._abort_seen.is_set():
            raise JobAborted("Harvest pass aborted on request.")
        if self.context is not None:
            self.context.check()

    def end(self, status: Literal["failed", "aborted"], **values: Any) -> None:
        """The run's end other than success, and the harvester back to ``idle`` with ``values``; a pass
        that lost its run (recovered, superseded) writes nothing."""
        assert self.attempt is not None
        try:
            with self.database.session() as session:
                runs.finish(session, self.attempt, status)
                harvester = get_harvester(session, self.harvester_uid)
                for name, value in values.items():
                    setattr(harvester, name, value)
                if not passes.live_passes(session, self.harvester_uid):
                    harvester.status = "idle"
        except StaleAttempt:
            log.warning("harvester %s: pass %s superseded", self.harvester_uid, self.attempt.run_uid)


def run_harvest(
    database: Database,
    settings: Settings,
    harvester_uid: str,
    submit: Submit | None = None,
    *,
    run_uid: str | None = None,
    context: JobContext | None = None,
) -> dict[str, Any] | None:
    """One pass (module docstring), as the run ``run_uid`` (``control.request_pass``) or a new one; the
    report it also saves on the harvester, None if the run was not there to claim. An error that stops
    the pass (the bucket cannot be listed...) is saved as the harvester's error and raised; an abort
    ends it quietly (``last_report.aborted``)."""
    one = _Pass(database, harvester_uid, context)
    started = one.claim(run_uid)
    if started is None:
        return None
    assert one.attempt is not None
    keys: list[str] = []
    try:
        with Heartbeat(one.beat, BEAT_SECONDS, name=f"datawharf-heartbeat-{one.attempt.run_uid}"):
            keys, base = _list_keys(database, settings, harvester_uid, one.check)
            one.saving.set()
            with database.session(write_lock=True) as session:
                if runs.fence(session, one.attempt) == "abort_requested":
                    raise JobAborted("Harvest pass aborted on request.")
                counts, errors, queued = _reconcile(session, settings, harvester_uid, keys, base, one.check)
                report = {"started_at": started.isoformat(), "keys": len(keys), **counts}
                runs.finish(session, one.attempt, "done")
                locked = get_harvester(session, harvester_uid)
                locked.last_report = report
                locked.resource_errors = errors
                locked.harvester_error = None
                locked.last_success_at = utcnow()
                if not passes.live_passes(session, harvester_uid):
                    locked.status = "idle"
    except StaleAttempt:
        log.warning("harvester %s: pass %s superseded, nothing saved", harvester_uid, one.attempt.run_uid)
        return None
    except JobAborted:
        aborted = {"started_at": started.isoformat(), "keys": len(keys), "aborted": True}
        one.end("aborted", last_report=aborted)
        log.info("harvester %s: pass aborted", harvester_uid)
        return aborted
    except Exception as exc:
        message = exc.message if isinstance(exc, DatawharfError) else "Unexpected error (see the log)."
        one.end("failed", harvester_error=message)
        raise
    if submit is not None:
        for dataset_uid, run_uid_queued in queued:
            submit(dataset_uid, run_uid_queued)
    log.info("harvester %s: %s", harvester_uid, report)
    return report
