"""The dataset status vocabulary and its transition table (datasets/status.py), as set_status applies it."""

from __future__ import annotations

import pytest

from datawharf.datasets.service import set_status
from datawharf.datasets.status import (
    RESTING,
    RUNNING,
    STATUSES,
    TRANSITIONS,
    DatasetStatus,
    IllegalTransition,
)
from datawharf.store.models.datasets import Dataset


def test_the_vocabulary_is_the_references_and_the_table_covers_it() -> None:
    assert set(STATUSES) == {
        "idle",
        "error",
        "limit_reached",
        "queued",
        "aborting_processing",
        "processing",
        "deleting",
        "saving_version",
    }
    assert set(TRANSITIONS) == set(STATUSES)
    assert set(RUNNING) | set(RESTING) == set(STATUSES) - {"deleting"}


def test_every_running_status_can_reach_a_resting_one() -> None:
    for start in RUNNING:
        seen, frontier = {start}, [start]
        while frontier:
            for following in TRANSITIONS[frontier.pop()]:
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
        assert seen & set(RESTING), start


def _dataset(status: DatasetStatus) -> Dataset:
    return Dataset(uid="da_x", dataset_id="x", status=status, metadata_={})


def test_set_status_follows_the_table() -> None:
    dataset = _dataset("idle")
    for status in ("queued", "processing", "saving_version", "idle"):
        set_status(dataset, status)
    assert (dataset.status, dataset.status_previous) == ("idle", "saving_version")
    set_status(dataset, "idle", "Unpublished")  # the same status: a new message, always allowed
    assert dataset.status_message == "Unpublished"


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("idle", "processing"),
        ("error", "saving_version"),
        ("aborting_processing", "processing"),
        ("idle", "deleting"),
    ],
)
def test_set_status_refuses_a_move_the_table_does_not_allow(
    current: DatasetStatus, new: DatasetStatus
) -> None:
    dataset = _dataset(current)
    with pytest.raises(IllegalTransition, match=f"from '{current}' to '{new}'"):
        set_status(dataset, new)
    assert dataset.status == current
