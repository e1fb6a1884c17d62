"""What a face asks of a harvester beyond its settings: start a pass, abort, publish or unpublish every
dataset it made; and the recovery of passes whose process died.

A pass is a run of the runs table (``jobs/runs.py``, kind ``harvest``, subject the harvester): claimed by
the process that makes it, beating while it lists, fenced while it writes. So a pass killed with its
process is found like a dead publish (its worker gone from this host, or its heartbeat stale), and the
harvester, left ``processing``, goes back to ``idle`` with a message saying so (``recover_passes``).

Abort stops *the harvesting*, as an admin means it: the pass (queued: at once; running: at its next
check, its unsaved work discarded: a pass commits all its keys or none) and every publish still queued
or running on a dataset of the harvester (each through ``datasets/control.request_abort``: the previous
version stays served). Datasets already published stay published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets import control as dataset_control
from datawharf.datasets.service import RESTING
from datawharf.errors import Conflict
from datawharf.harvest.service import get_harvester
from datawharf.jobs import runs
from datawharf.store.models import new_uid
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import HarvestedDataset, Harvester
from datawharf.store.models.runs import Run

HARVEST = "harvest"  # the runs' kind
BUSY = ("queued", "processing", "aborting")  # a harvester's statuses while a pass is wanted or going
INTERRUPTED = (
    "The last pass was interrupted (the process running it stopped) before it saved anything; the "
    "harvester runs again at its next schedule, or start it now."
)


class HarvesterNotRunning(Conflict):
    default_code = "harvester_not_running"


def live_passes(session: Session, harvester_uid: str) -> list[Run]:
    """The harvester's passes queued or going (two can be: "start" during a scheduled pass)."""
    return list(
        session.scalars(
            select(Run).where(
                Run.kind == HARVEST,
                Run.subject_uid == harvester_uid,
                Run.status.in_(("queued", *runs.LIVE)),
            )
        )
    )


def request_pass(session: Session, harvester_uid: str) -> str:
    """A queued pass (its run), for a worker to claim: what "start" and "run now" ask. One already
    queued and not yet begun is the one asked for again (a pass lists everything: two would do the same)."""
    harvester = get_harvester(session, harvester_uid, for_update=True)
    waiting = [run.uid for run in live_passes(session, harvester_uid) if run.status == "queued"]
    if waiting:
        return waiting[0]
    run_uid = new_uid("ru")
    runs.create_run(session, HARVEST, harvester_uid, run_uid=run_uid, max_attempts=1)
    if harvester.status == "idle":
        harvester.status = "queued"
    session.flush()
    return run_uid


def harvested_datasets(session: Session, harvester_uid: str, *, present_only: bool = False) -> list[Dataset]:
    """The datasets the harvester made that still exist (locked), in key order; ``present_only``: those
    whose object (or folder) was there at the last pass."""
    query = (
        select(Dataset)
        .join(HarvestedDataset, HarvestedDataset.dataset_uid == Dataset.uid)
        .where(HarvestedDataset.harvester_uid == harvester_uid)
        .order_by(HarvestedDataset.source_key)
        .with_for_update(of=Dataset)
    )
    if present_only:
        query = query.where(HarvestedDataset.present)
    return list(session.scalars(query))


@dataclass
class Aborted:
    passes: list[str] = field(default_factory=list)  # run uids of the passes asked to stop
    publishes: list[str] = field(default_factory=list)  # run uids of the publishes asked to stop


def request_abort(session: Session, harvester_uid: str) -> Aborted:
    """The module docstring's abort, in the caller's transaction (the caller then signals the workers of
    this process: ``Aborted`` names the runs). Refused when nothing of the harvester runs."""
    harvester = get_harvester(session, harvester_uid, for_update=True)
    aborted = Aborted()
    for run in live_passes(session, harvester_uid):
        if runs.request_abort(session, run.uid) is not None:
            aborted.passes.append(run.uid)
    for dataset in harvested_datasets(session, harvester_uid):
        if dataset.status in ("queued", "processing") and dataset.run_uid is not None:
            aborted.publishes.append(dataset.run_uid)
            dataset_control.request_abort(session, dataset.uid)
    if not aborted.passes and not aborted.publishes:
        raise HarvesterNotRunning(
            f"Harvester {harvester.name!r} is not running: no pass and no publish of its datasets is queued "
            "or going. Start it with POST /harvesters/{uid}/start/.",
            detail={"status": harvester.status},
        )
    still = {run.uid for run in live_passes(session, harvester_uid)}
    harvester.status = "aborting" if still else "idle"
    session.flush()
    return aborted


@dataclass
class Counted:
    """What a harvester-wide publish or unpublish did: datasets it changed, and those it left."""

    done: list[tuple[str, str | None]] = field(default_factory=list)  # (dataset_uid, queued run_uid)
    already: int = 0  # already published (publish) / not published (unpublish)
    busy: int = 0  # a run queued or going: left alone
    gone: int = 0  # publish only: their object was not there at the last pass


def publish_all(session: Session, harvester_uid: str, *, max_attempts: int) -> Counted:
    """Queue a publish of every dataset of the harvester not published and resting whose object was
    there at the last pass (a gone object cannot be read); the published ones are left as they are (a
    pass refreshes them). The caller commits, then submits the ``done`` runs."""
    get_harvester(session, harvester_uid)
    counted = Counted()
    present = {d.uid for d in harvested_datasets(session, harvester_uid, present_only=True)}
    for dataset in harvested_datasets(session, harvester_uid):
        if dataset.is_published:
            counted.already += 1
        elif dataset.uid not in present:
            counted.gone += 1
        elif dataset.status not in RESTING:
            counted.busy += 1
        else:
            queued = dataset_control.request_publish(session, dataset.uid, max_attempts=max_attempts)
            counted.done.append((dataset.uid, queued.run_uid))
    return counted


def unpublish_all(session: Session, harvester_uid: str) -> Counted:
    """Unpublish every published dataset of the harvester (a busy one is left: abort it first). They stay
    there, versions and all; the harvester's next pass publishes those whose object is still there."""
    get_harvester(session, harvester_uid)
    counted = Counted()
    for dataset in harvested_datasets(session, harvester_uid):
        if not dataset.is_published:
            counted.already += 1
        elif dataset.status not in RESTING:
            counted.busy += 1
        else:
            dataset_control.request_unpublish(session, dataset.uid)
            counted.done.append((dataset.uid, None))
    return counted


def recover_passes(session: Session) -> list[tuple[str, str]]:
    """Called after ``datasets/control.recover_runs`` (which ends the runs of dead workers, passes
    included): a harvester left busy without a live pass goes back to ``idle`` with ``INTERRUPTED`` as
    its error (or none, if it was being aborted). Returns ``(harvester_uid, run_uid)`` of the passes
    still queued, for the caller to hand to a worker (a "start" whose process died before the pass
    began)."""
    queued: list[tuple[str, str]] = []
    busy = session.scalars(
        select(Harvester).where(Harvester.status.in_(BUSY)).with_for_update(skip_locked=True)
    )
    for harvester in list(busy):
        live = live_passes(session, harvester.uid)
        if not live:
            if harvester.status != "aborting":
                harvester.harvester_error = INTERRUPTED
            harvester.status = "idle"
        queued.extend((harvester.uid, run.uid) for run in live if run.status == "queued")
    session.flush()
    return queued
