"""What every warehouse shares: the interface, the sweep's inputs and outputs, the ``warehouse_full`` error.

Its own module so that the local warehouse (``store/warehouse.py``, which also holds ``make_warehouse``)
and the S3 one (``store/warehouse_s3.py``) both depend on it and not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow.fs as pafs

from datawharf.errors import DatawharfError


class WarehouseFull(DatawharfError):
    http_status = 507
    default_code = "warehouse_full"


@dataclass(frozen=True)
class References:
    """What the database says of the warehouse, for ``Warehouse.sweep``.

    ``datasets``: every dataset uid -> the data folders (``data_uid``) its versions point at;
    ``live``: datasets whose run is queued or running (their folders are the run's business).
    """

    datasets: Mapping[str, set[str]]
    live: set[str]


@dataclass
class Swept:
    """What a sweep removed: local folders (``Path``) or S3 prefixes (``bucket/key`` strings)."""

    removed: list[Path | str] = field(default_factory=list)
    bytes: int = 0
    uploads_aborted: int = 0


class Warehouse(Protocol):
    """What publish, versions, deletion and the sweep need of a warehouse, local or on S3.

    A version's files are ``f"{version_path(dataset_uid, data_uid)}/{name}"`` in ``filesystem`` for
    each name in ``DatasetVersion.files``; ``is_local`` says those are plain local paths (DuckDB's
    ``read_parquet`` fast path).
    """

    filesystem: pafs.FileSystem
    is_local: bool
    max_bytes: int | None

    def version_path(self, dataset_uid: str, data_uid: str) -> str: ...

    def start_version(self, dataset_uid: str, data_uid: str) -> str:
        """Where the run writes the version's files (a folder path in ``filesystem``)."""
        ...

    def finish_version(self, dataset_uid: str, data_uid: str, files: Sequence[str]) -> str:
        """Make the written files the version (before the DB transaction that switches to it)."""
        ...

    def discard(self, path: str) -> None:
        """Remove a folder (or prefix) ``start_version``/``finish_version`` returned; never raises."""
        ...

    def version_exists(self, dataset_uid: str, data_uid: str) -> bool: ...

    def remove_dataset(self, dataset_uid: str) -> None: ...

    def sweep(self, references: Callable[[], References]) -> Swept: ...

    def used_bytes(self, recorded: Callable[[], int]) -> int:
        """Bytes the warehouse holds now; ``recorded`` gives the database's sum of version sizes."""
        ...

    def full_error(self, needed: int | None = None) -> WarehouseFull: ...

    def check_room(self, used_before: int, written: int) -> None: ...


def full_message(where: str) -> str:
    """The ``warehouse_full`` message: the cause, then every way to free space."""
    return (
        f"The warehouse is full: writing this version would exceed {where}. Free space, then "
        "publish again: delete old versions ('datawharf datasets delete-version DATASET VERSION', or "
        "DELETE /api/automation/v1.0/datasets/{uid}/versions/{version_uid}/), keep fewer of them "
        "(DATAWHARF_VERSIONS_KEEP), delete datasets, or raise the cap."
    )
