"""A dataset's processing status: the reference's eight values and which may follow which, in one place.

``set_status`` (datasets/service.py) refuses a move the table does not allow, so a new code path cannot
leave a dataset in a state nothing expects (a run "processing" again after it was aborted, say).
"""

from __future__ import annotations

from typing import Literal, get_args

DatasetStatus = Literal[
    "idle",
    "error",
    "limit_reached",
    "queued",
    "aborting_processing",
    "processing",
    "deleting",
    "saving_version",
]
STATUSES: tuple[DatasetStatus, ...] = get_args(DatasetStatus)
# A run owns the dataset in these states: configuration that feeds it must not move under it.
RUNNING: tuple[DatasetStatus, ...] = ("queued", "processing", "saving_version", "aborting_processing")
RESTING: tuple[DatasetStatus, ...] = ("idle", "error", "limit_reached")


def _to(*statuses: DatasetStatus) -> frozenset[DatasetStatus]:
    return frozenset(statuses)


_ENDS = _to("idle", "error", "limit_reached")

# status -> the statuses it may move to (staying in the same status is always allowed: a new message).
TRANSITIONS: dict[DatasetStatus, frozenset[DatasetStatus]] = {
    # A publish is requested.
    "idle": _to("queued"),
    "error": _to("queued"),
    "limit_reached": _to("queued"),
    # A worker claims the run; or it is aborted before it starts; or it cannot start.
    "queued": _to("processing", "idle", "error"),
    # The run writes its version, is asked to stop, or ends (unchanged, failed, over a limit); or its
    # worker stops (handed back) or dies (retried): queued again for the run's next attempt.
    "processing": _to("saving_version", "aborting_processing", "queued") | _ENDS,
    "saving_version": _to("aborting_processing", "queued") | _ENDS,
    "aborting_processing": _to("idle", "error"),
    # The reference's; datawharf deletes a dataset at once and never shows it.
    "deleting": _to(),
}


class IllegalTransition(RuntimeError):
    """A code path moved a dataset between statuses the table does not link: a bug, not an input."""


def check_transition(current: DatasetStatus, new: DatasetStatus) -> None:
    if current != new and new not in TRANSITIONS[current]:
        raise IllegalTransition(f"a dataset cannot go from {current!r} to {new!r} (datasets/status.py)")
