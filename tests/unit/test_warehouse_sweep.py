"""The warehouse sweep's rules (what it removes, what it never touches) and the job heartbeat."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from datawharf.jobs.runner import Heartbeat
from datawharf.settings import Settings
from datawharf.store.warehouse import STAGING_PREFIX, LocalWarehouse, References


def _folder(path: Path, size: int = 10) -> Path:
    path.mkdir(parents=True)
    (path / "part-00000.parquet").write_bytes(b"x" * size)
    return path


def _warehouse(tmp_path: Path) -> LocalWarehouse:
    return LocalWarehouse(Settings(home=tmp_path))


def test_sweep_removes_what_the_database_does_not_reference(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    root = warehouse.root
    kept = _folder(root / "da_a" / "ch_current")
    shared = _folder(root / "da_a" / "ch_old")
    renamed = _folder(root / "da_a" / "ch_notcommitted", 100)
    dead = _folder(root / "da_a" / f"{STAGING_PREFIX}ch_dead", 7)
    deleted = _folder(root / "da_gone" / "ch_x", 3)
    outside = tmp_path / "outside"
    _folder(outside)
    (root / "da_a" / "ch_link").symlink_to(outside)
    references = References(datasets={"da_a": {"ch_current", "ch_old"}}, live=set())
    swept = warehouse.sweep(lambda: references)
    assert sorted(swept.removed) == sorted([renamed, dead, deleted.parent, root / "da_a" / "ch_link"])
    assert swept.bytes == 100 + 7 + 3
    assert kept.is_dir() and shared.is_dir()
    assert (outside / "part-00000.parquet").exists()  # a symlink is removed, never what it points at


def test_sweep_leaves_a_live_run_alone(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    staging = _folder(warehouse.root / "da_a" / f"{STAGING_PREFIX}ch_running")
    renamed = _folder(warehouse.root / "da_a" / "ch_saving")  # renamed, its commit not yet made
    swept = warehouse.sweep(lambda: References(datasets={"da_a": set()}, live={"da_a"}))
    assert swept.removed == [] and staging.is_dir() and renamed.is_dir()


def test_sweep_reads_the_database_after_listing_the_disk(tmp_path: Path) -> None:
    """A folder made while the sweep runs is not looked at: its run recorded itself before making it."""
    warehouse = _warehouse(tmp_path)
    _folder(warehouse.root / "da_a" / "ch_1")

    def references() -> References:
        _folder(warehouse.root / "da_a" / f"{STAGING_PREFIX}ch_new")
        return References(datasets={"da_a": {"ch_1"}}, live=set())

    assert warehouse.sweep(references).removed == []
    assert (warehouse.root / "da_a" / f"{STAGING_PREFIX}ch_new").is_dir()


def test_sweep_removes_nothing_when_the_database_knows_no_dataset(tmp_path: Path) -> None:
    """An empty database beside a full warehouse is taken for DATAWHARF_DATABASE_URL pointing elsewhere."""
    warehouse = _warehouse(tmp_path)
    version = _folder(warehouse.root / "da_a" / "ch_1")
    assert warehouse.sweep(lambda: References(datasets={}, live=set())).removed == []
    assert version.is_dir()


def test_heartbeat_beats_while_the_job_is_blocked_and_survives_a_failed_beat() -> None:
    beats: list[float] = []

    def beat() -> None:
        beats.append(time.monotonic())
        if len(beats) == 2:
            raise RuntimeError("database is locked")

    blocked = threading.Event()
    with Heartbeat(beat, 0.05, name="test-heartbeat"):
        blocked.wait(0.5)  # the job's own thread does nothing meanwhile, as in a stalled read
    count = len(beats)
    assert count >= 5
    time.sleep(0.15)
    assert len(beats) == count  # stopped with the block
