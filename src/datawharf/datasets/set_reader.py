"""The objects of a prefix or glob read concurrently, their records in key order, memory bounded.

A set of 1,000 objects of a few kilobytes each is dominated by round trips (a GET per object, then a
parser started per object), not by bytes: read one after another, the run waits on the network a
thousand times. Here up to ``workers`` small objects (``SMALL_OBJECT_BYTES`` or less, as the listing
says) are fetched (each in one GET, ``locate.py``) and parsed at once, each whole, into a list of
batches; the caller receives them in the listing's order, so the published records come in the same
order as a sequential read. At most ``workers`` objects are held at a time (``fastpath.ordered_map``'s
``ahead``), so memory is bounded by ``workers x SMALL_OBJECT_BYTES`` (times the parsed form's
expansion) whatever the set's size. A larger object is not read ahead: the caller streams it
(``Deferred``) with the bounded reader of a single object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from datawharf.datasets.fastpath import ordered_map
from datawharf.datasets.locate import SMALL_OBJECT_BYTES, LocatedObject


@dataclass
class Whole:
    """A small object, read and parsed: its batches (none: no record)."""

    item: LocatedObject
    batches: list[pa.RecordBatch]


@dataclass
class Deferred:
    """A large object (or one of unknown size): the caller streams it itself, in its turn."""

    item: LocatedObject


Loaded = Whole | Deferred


def is_small(item: LocatedObject) -> bool:
    return item.size is not None and item.size <= SMALL_OBJECT_BYTES


def read_objects(
    objects: Iterator[LocatedObject],
    read_whole: Callable[[LocatedObject], list[pa.RecordBatch]],
    *,
    workers: int,
) -> Iterator[Loaded]:
    """Each object in ``objects``' order: small ones read by ``read_whole`` on ``workers`` threads
    ahead of the caller, large ones handed back unread. An error raised while reading one is raised
    here, in its turn (the objects before it are delivered first)."""

    def load(item: LocatedObject) -> Loaded:
        return Whole(item, read_whole(item)) if is_small(item) else Deferred(item)

    if workers <= 1:
        yield from map(load, objects)
        return
    yield from ordered_map(load, objects, workers=workers, ahead=workers)
