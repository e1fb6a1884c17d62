"""The warehouse: Parquet files of every dataset version, in a local folder (the default) or on S3.

``make_warehouse(settings)`` picks the implementation: ``DATAWHARF_WAREHOUSE_URL=s3://bucket/prefix``
gives the S3 one (``store/warehouse_s3.py``), anything else this local folder. Both follow the
``Warehouse`` interface: a pyarrow ``filesystem`` and ``version_path`` (where the Explore side reads a
version's files), ``start_version``/``finish_version``/``discard`` (a publish), ``sweep`` (the files
the database does not reference) and the size cap.

Local layout (the convention the Explore side reads)::

    <warehouse_dir>/<dataset_uid>/<data_uid>/part-00000.parquet ...
    <warehouse_dir>/<dataset_uid>/.staging-<data_uid>/            (a run in progress)

A run writes into a staging folder and renames it into place when complete (one ``rename``, atomic on
a POSIX filesystem), so a reader never sees half a version; a failed run removes its staging folder.
A process killed at the wrong moment leaves what no code path removes: a staging folder, a version
folder renamed into place whose DB row was never committed, a dataset folder whose row was deleted.
``sweep`` removes every folder the database does not reference (at start, and periodically), and
never touches a dataset whose run is alive. ``max_bytes`` (setting ``warehouse_max_bytes``) caps the
folder's size: a run that would cross it fails as ``warehouse_full``, exactly as a full disk
(``ENOSPC``) does.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow.fs as pafs

from datawharf.settings import Settings
from datawharf.store.warehouse_base import (
    References,
    Swept,
    Warehouse,
    WarehouseFull,
    full_message,
)

__all__ = [
    "STAGING_PREFIX",
    "LocalWarehouse",
    "References",
    "Swept",
    "Warehouse",
    "WarehouseFull",
    "folder_size",
    "is_disk_full",
    "make_warehouse",
]

STAGING_PREFIX = ".staging-"

log = logging.getLogger("datawharf.warehouse")


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


def make_warehouse(settings: Settings) -> Warehouse:
    """The warehouse the settings name: S3 for an ``s3://`` ``warehouse_url``, else the local folder."""
    if settings.warehouse_url:
        from datawharf.store.warehouse_s3 import shared_warehouse  # the S3 filesystem: only then

        return shared_warehouse(settings)
    return LocalWarehouse(settings)


def _remove(path: Path) -> int:
    """Remove a folder (a symlink: the link only, never what it points at); the bytes freed."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
        return 0
    size = folder_size(path)
    shutil.rmtree(path, ignore_errors=True)
    return size


class LocalWarehouse:
    """The local folder: staging folders renamed into place (see the module docstring)."""

    is_local = True

    def __init__(self, settings: Settings) -> None:
        self.root = settings.warehouse_dir
        self.max_bytes = settings.warehouse_max_bytes
        self.filesystem: pafs.FileSystem = pafs.LocalFileSystem()

    def dataset_dir(self, dataset_uid: str) -> Path:
        return self.root / dataset_uid

    def version_dir(self, dataset_uid: str, data_uid: str) -> Path:
        return self.root / dataset_uid / data_uid

    def staging_dir(self, dataset_uid: str, data_uid: str) -> Path:
        return self.root / dataset_uid / f"{STAGING_PREFIX}{data_uid}"

    def version_path(self, dataset_uid: str, data_uid: str) -> str:
        return str(self.version_dir(dataset_uid, data_uid))

    def version_exists(self, dataset_uid: str, data_uid: str) -> bool:
        return self.version_dir(dataset_uid, data_uid).is_dir()

    def start_version(self, dataset_uid: str, data_uid: str) -> str:
        staging = self.staging_dir(dataset_uid, data_uid)
        staging.mkdir(parents=True, exist_ok=False)
        return str(staging)

    def finish_version(self, dataset_uid: str, data_uid: str, files: Sequence[str] = ()) -> str:
        final = self.version_dir(dataset_uid, data_uid)
        os.rename(self.staging_dir(dataset_uid, data_uid), final)
        return str(final)

    def discard(self, path: str | Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def remove_dataset(self, dataset_uid: str) -> None:
        shutil.rmtree(self.dataset_dir(dataset_uid), ignore_errors=True)

    def sweep(self, references: Callable[[], References]) -> Swept:
        """Remove every folder under the warehouse that ``references()`` (the database) does not name.

        The disk is listed *before* the database is read: a folder made after the listing is not
        looked at, and one listed before belongs to a run that had already recorded itself as running
        (it creates its folders after its claim), so it is either still running (``live``: left
        alone), or done and its folder referenced, or failed and its folder already removed by the run.
        A database that knows no dataset at all while the warehouse holds some is taken for the wrong
        database (``DATAWHARF_DATABASE_URL`` changed): nothing is removed, and that is logged.
        """
        started = time.monotonic()
        listed = self._listing()
        if not listed:
            return Swept()
        known = references()
        if not known.datasets:
            log.warning(
                "the warehouse %s holds %d dataset folder(s) but the database knows no dataset: is "
                "DATAWHARF_DATABASE_URL the database of this warehouse? Nothing was removed.",
                self.root,
                len(listed),
            )
            return Swept()
        swept = Swept()
        for dataset_uid, children in listed.items():
            if dataset_uid in known.live:
                continue
            referenced = known.datasets.get(dataset_uid)
            if referenced is None:  # the dataset is gone
                orphans = [self.dataset_dir(dataset_uid)]
            else:
                orphans = [self.dataset_dir(dataset_uid) / c for c in children if c not in referenced]
            for path in orphans:
                swept.bytes += _remove(path)
                swept.removed.append(path)
        if swept.removed:
            log.warning(
                "removed %d warehouse folder(s) (%d bytes, in %.3f s) that the database does not "
                "reference: %s",
                len(swept.removed),
                swept.bytes,
                time.monotonic() - started,
                ", ".join(os.path.relpath(p, self.root) for p in swept.removed[:20]),
            )
        return swept

    def _listing(self) -> dict[str, list[str]]:
        """Dataset folder name -> the names of the folders in it (versions and staging folders)."""
        if not self.root.is_dir():
            return {}
        listed: dict[str, list[str]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_dir():
                    with os.scandir(entry.path) as children:
                        listed[entry.name] = [c.name for c in children if c.is_dir()]
        return listed

    def used_bytes(self, recorded: Callable[[], int] | None = None) -> int:
        """The folder's size on disk (what a full disk counts: orphans included), not the records."""
        return folder_size(self.root) if self.root.exists() else 0

    def full_error(self, needed: int | None = None) -> WarehouseFull:
        where = f"the warehouse cap ({self.max_bytes} bytes, setting DATAWHARF_WAREHOUSE_MAX_BYTES)"
        if self.max_bytes is None:
            where = f"the disk holding the warehouse ({self.root})"
        return WarehouseFull(
            full_message(where), detail={"needed_bytes": needed} if needed is not None else {}
        )

    def check_room(self, used_before: int, written: int) -> None:
        if self.max_bytes is not None and used_before + written > self.max_bytes:
            raise self.full_error(used_before + written)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
