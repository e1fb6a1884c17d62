"""The warehouse: Parquet files of every dataset version, in a local folder.

Layout (the convention the Explore side reads)::

    <warehouse_dir>/<dataset_uid>/<data_uid>/part-00000.parquet ...
    <warehouse_dir>/<dataset_uid>/.staging-<data_uid>/            (a run in progress)

A run writes into a staging folder and renames it into place when complete (one ``rename``, atomic on
a POSIX filesystem), so a reader never sees half a version; a failed run removes its staging folder,
and ``sweep_staging`` clears those of runs that died with their process. ``max_bytes`` (setting
``warehouse_max_bytes``) caps the folder's size: a run that would cross it fails as ``warehouse_full``,
exactly as a full disk (``ENOSPC``) does.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from datawharf.errors import DatawharfError
from datawharf.settings import Settings

STAGING_PREFIX = ".staging-"


class WarehouseFull(DatawharfError):
    http_status = 507
    default_code = "warehouse_full"


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


class Warehouse:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.warehouse_dir
        self.max_bytes = settings.warehouse_max_bytes

    def dataset_dir(self, dataset_uid: str) -> Path:
        return self.root / dataset_uid

    def version_dir(self, dataset_uid: str, data_uid: str) -> Path:
        return self.root / dataset_uid / data_uid

    def staging_dir(self, dataset_uid: str, data_uid: str) -> Path:
        return self.root / dataset_uid / f"{STAGING_PREFIX}{data_uid}"

    def start_version(self, dataset_uid: str, data_uid: str) -> Path:
        staging = self.staging_dir(dataset_uid, data_uid)
        staging.mkdir(parents=True, exist_ok=False)
        return staging

    def finish_version(self, dataset_uid: str, data_uid: str) -> Path:
        final = self.version_dir(dataset_uid, data_uid)
        os.rename(self.staging_dir(dataset_uid, data_uid), final)
        return final

    def discard(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def remove_dataset(self, dataset_uid: str) -> None:
        shutil.rmtree(self.dataset_dir(dataset_uid), ignore_errors=True)

    def sweep_staging(self) -> list[Path]:
        """Remove the staging folders left by runs that died with their process (call at start)."""
        removed: list[Path] = []
        if not self.root.exists():
            return removed
        for path in self.root.glob(f"*/{STAGING_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed

    def used_bytes(self) -> int:
        return folder_size(self.root) if self.root.exists() else 0

    def full_error(self, needed: int | None = None) -> WarehouseFull:
        where = f"the warehouse cap ({self.max_bytes} bytes, setting DATAWHARF_WAREHOUSE_MAX_BYTES)"
        if self.max_bytes is None:
            where = f"the disk holding the warehouse ({self.root})"
        return WarehouseFull(
            f"The warehouse is full: writing this version would exceed {where}. Free space (delete "
            "datasets or old versions) or raise the cap, then publish again.",
            detail={"needed_bytes": needed} if needed is not None else {},
        )

    def check_room(self, used_before: int, written: int) -> None:
        if self.max_bytes is not None and used_before + written > self.max_bytes:
            raise self.full_error(used_before + written)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
