"""Incremental refresh of a prefix or glob: a daily file costs a day's work, not the whole history.

Every version records the objects of its sets (``dataset_version_objects``: key, ETag, size, records).
A publish "only if changed" lists each set and diffs the listing against the current version's objects:

- nothing new, nothing changed, the single objects and the configuration as they were: no publish;
- only new objects (the rest as it was): they alone are read, into one new Parquet part, and the new
  version is the current version's parts (referenced, never copied) plus that part;
- an object changed (another ETag or size) or gone: a full rebuild, or a failure
  (``objects_changed_since_version``) with ``DATAWHARF_INCREMENTAL_ON_CHANGE=fail``.

A version's ``files`` are relative to its own folder, so a part of an older version is named
``../<data_uid>/part-00000.parquet``: ``folders_of`` gives every folder a version needs, and retention,
deletion, restore and the warehouse sweep keep a folder while any kept version needs it.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from datawharf.datasets.locate import LocatedObject, LocatedSet
from datawharf.errors import ExtractError
from datawharf.settings import Settings
from datawharf.store.models.datasets import DatasetVersion, DatasetVersionObject

INSERT_CHUNK = 1000  # object rows per INSERT: 100,000 objects never make one huge statement


class ObjectsChangedSinceVersion(ExtractError):
    default_code = "objects_changed_since_version"


@dataclass
class ObjectRecord:
    """One object a version holds (its records as they were published)."""

    resource_uid: str
    key: str
    etag: str | None
    size: int | None
    records: int = 0


@dataclass
class Plan:
    """What a publish "only if changed" does: ``unchanged``, ``append`` the ``new`` objects, or
    ``rebuild`` (``reason`` says why, for the log and the status)."""

    kind: Literal["unchanged", "append", "rebuild"]
    new: dict[str, list[LocatedObject]] = field(default_factory=dict)  # resource uid -> objects to read
    kept: list[ObjectRecord] = field(default_factory=list)  # the current version's objects, carried on
    reason: str = ""


# --- the diff ------------------------------------------------------------------------------------


def current_objects(session: Session, version_uid: str) -> dict[str, dict[str, ObjectRecord]]:
    """resource uid -> key -> the object as the version holds it."""
    found: dict[str, dict[str, ObjectRecord]] = {}
    rows = session.scalars(
        select(DatasetVersionObject).where(DatasetVersionObject.version_uid == version_uid)
    )
    for row in rows:
        found.setdefault(row.resource_uid, {})[row.key] = ObjectRecord(
            row.resource_uid, row.key, row.etag, row.size, row.records
        )
    return found


def plan(
    held: dict[str, dict[str, ObjectRecord]],
    settings: Settings,
    current: DatasetVersion,
    located: list[tuple[str, LocatedObject | LocatedSet]],
    identities: list[dict[str, Any]],
    config_hash: str,
) -> Plan:
    """Lists every set once and compares it, and the single objects, with ``current`` (whose objects
    are ``held``, read by ``current_objects`` beforehand: no transaction stays open while S3 lists)."""
    if current.config_hash != config_hash:
        return Plan("rebuild", reason="the configuration changed")
    before = {s.get("resource_uid"): s for s in current.sources}
    if set(before) != {uid for uid, _ in located}:
        return Plan("rebuild", reason="the resources changed")
    sets = [(uid, item) for uid, item in located if isinstance(item, LocatedSet)]
    for identity in identities:
        if identity.get("pattern") is not None:
            if before[identity["resource_uid"]].get("pattern") != identity["pattern"]:
                return Plan("rebuild", reason="a pattern changed")
            continue
        old = before[identity["resource_uid"]]
        if not identity["etag"] or (old.get("etag"), old.get("size")) != (identity["etag"], identity["size"]):
            return Plan("rebuild", reason="an object changed")
    if not sets:
        return Plan("rebuild", reason="no prefix or glob")  # the caller's single-object check decides
    result = Plan("append")
    changed: list[str] = []
    for uid, item in sets:
        known = held.get(uid)
        if known is None:
            return Plan("rebuild", reason="the current version predates the record of its objects")
        seen: set[str] = set()
        fresh: list[LocatedObject] = []
        for obj in item.objects():
            seen.add(obj.name)
            held_object = known.get(obj.name)
            if held_object is None:
                fresh.append(obj)
            elif (held_object.etag, held_object.size) != (obj.etag, obj.size):
                changed.append(f"{obj.name} (changed)")
        changed += [f"{key} (gone)" for key in sorted(set(known) - seen)]
        result.kept += known.values()
        if fresh:
            result.new[uid] = fresh
    if changed:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        if settings.incremental_on_change == "fail":
            raise ObjectsChangedSinceVersion(
                f"{len(changed)} object(s) of the current version {current.uid} changed or are gone: "
                f"{shown}. Publish without 'only if changed' to rebuild the whole dataset, or set "
                "DATAWHARF_INCREMENTAL_ON_CHANGE=rebuild to let such a publish rebuild it.",
                detail={"objects": changed[:100]},
            )
        return Plan("rebuild", reason=f"object(s) changed or gone: {shown}")
    if not result.new:
        return Plan("unchanged")
    return result


def only_new(located: LocatedSet, objects: list[LocatedObject]) -> LocatedSet:
    """The set restricted to its new objects (already listed: no second listing)."""
    return dataclasses.replace(located, objects=lambda: iter(objects))


# --- files shared between versions ---------------------------------------------------------------


def carried_files(current: DatasetVersion) -> list[str]:
    """The current version's parts, named from a new version's folder (``../<data_uid>/<part>``)."""
    return [posixpath.normpath(posixpath.join("..", current.data_uid, name)) for name in current.files]


def folders_of(data_uid: str, files: Iterable[str]) -> set[str]:
    """The warehouse folders (data uids) whose parts a version reads: its own and those it refers to."""
    folders = {data_uid}
    for name in files:
        parts = posixpath.normpath(posixpath.join(data_uid, name)).split("/")
        if len(parts) > 1:
            folders.add(parts[0])
    return folders


def referenced_folders(versions: Iterable[tuple[str, list[str]]]) -> set[str]:
    """Every folder the given versions (``(data_uid, files)``) need."""
    needed: set[str] = set()
    for data_uid, files in versions:
        needed |= folders_of(data_uid, files or [])
    return needed


# --- the objects rows ----------------------------------------------------------------------------


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= INSERT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def record_objects(session: Session, version_uid: str, objects: Iterable[ObjectRecord]) -> None:
    """The rows of ``version_uid``'s objects, inserted in bulk (after its version row is flushed)."""
    rows = (
        {
            "version_uid": version_uid,
            "resource_uid": o.resource_uid,
            "key": o.key,
            "etag": o.etag,
            "size": o.size,
            "records": o.records,
        }
        for o in objects
    )
    for chunk in _chunks(rows):
        session.execute(insert(DatasetVersionObject), chunk)


def copy_objects(session: Session, from_uid: str, to_uid: str) -> None:
    """A restored version holds the objects of the version it restores."""
    held = current_objects(session, from_uid)
    record_objects(session, to_uid, (o for by_key in held.values() for o in by_key.values()))


def delete_objects(session: Session, version_uids: list[str]) -> None:
    """Explicitly, not by the foreign key's cascade alone: SQLite enforces it only when told to."""
    if version_uids:
        session.execute(
            delete(DatasetVersionObject).where(DatasetVersionObject.version_uid.in_(version_uids))
        )
