"""How many datasets use a connection: the hook that lets ``delete`` refuse while one does.

The datasets domain keeps ``connection_uid`` as a plain column on its own tables (no foreign key
crosses domains), so this module cannot name their tables. Two ways to be counted, simplest first:

1. any mapped table (``Base.metadata``) with both a ``connection_uid`` and a ``dataset_uid`` column is
   counted automatically: distinct ``dataset_uid`` where ``connection_uid`` matches;
2. anything else registers a counter with ``register_usage_counter(fn)``, ``fn(session, uid)`` returning
   the set of dataset uids using the connection.

Both are unioned, so a dataset counted twice (two resources, one connection) counts once.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from datawharf.store.models import Base

UsageCounter = Callable[[Session, str], set[str]]

_COUNTERS: list[UsageCounter] = []


def register_usage_counter(counter: UsageCounter) -> None:
    if counter not in _COUNTERS:
        _COUNTERS.append(counter)


def datasets_using(session: Session, connection_uid: str) -> set[str]:
    existing = set(inspect(session.connection()).get_table_names())
    found: set[str] = set()
    for table in Base.metadata.sorted_tables:
        columns = table.c
        if "connection_uid" in columns and "dataset_uid" in columns and table.name in existing:
            rows = session.scalars(
                select(columns["dataset_uid"]).where(columns["connection_uid"] == connection_uid).distinct()
            )
            found.update(str(row) for row in rows if row is not None)
    for counter in _COUNTERS:
        found.update(counter(session, connection_uid))
    return found


def count_datasets_using(session: Session, connection_uid: str) -> int:
    """The number of distinct datasets whose resources use the connection."""
    return len(datasets_using(session, connection_uid))
