"""Explore responses kept per (dataset version, compiled query) (issue 16, item 3).

A portal's widgets (a map, a chart, a counter, the first page of a table) send the same few queries
for every visitor; under 20 concurrent clients each of them queued behind identical DuckDB scans. A
published version's Parquet files never change (a new publish is a new version, with a new uid and new
files), so a response computed once for a version stays right until that version is no longer served,
and the key, made of the version and the query *as compiled* (whitespace, keyword case and the order of
``where`` clauses' rendering no longer matter), needs no invalidation: a new version misses, the old
entries age out of the LRU.

Bounded by bytes (``DATAWHARF_EXPLORE_CACHE_MB``, 0 turns it off), shared by the server's threads, and
single-flight: while one thread computes a key, the others asking for it wait for that answer instead
of running the same scan again (the thundering herd of a page that every visitor opens at once).
Failures are not kept: the next request computes again.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.records import compile_for, query_records
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine

MiB = 1024 * 1024


class ResponseCache:
    """An LRU of response bodies (``bytes``), bounded by their total size, single-flight per key."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Event] = {}
        self.hits = self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The cached body for ``key``, or ``compute()``'s (kept if it fits), computed once at a time."""
        if self.max_bytes <= 0:
            return compute()
        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return found
                pending = self._computing.get(key)
                if pending is None:
                    self._computing[key] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()  # another thread computes it; then look again (it may have failed)
        try:
            body = compute()
            self._keep(key, body)
            return body
        finally:
            with self._lock:
                self._computing.pop(key).set()

    def _keep(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:  # one export-sized answer must not flush every widget's
            return
        with self._lock:
            self._entries[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _key, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "entries": len(self._entries),
                "bytes": self._size,
                "hits": self.hits,
                "misses": self.misses,
            }


def json_body(body: Any) -> bytes:
    """The bytes FastAPI's ``JSONResponse`` would send for ``body``."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def records_body(
    cache: ResponseCache, engine: QueryEngine, dataset: PublishedDataset, request: QueryRequest
) -> bytes:
    """The records endpoint's JSON body, from the cache when this version answered this query before.
    A wrong query raises its ``ODSQLError`` (400) here, before the cache is looked at."""
    compiled = compile_for(dataset, request, "records")
    key = (dataset.version_uid, repr(compiled))

    def count(sql: str, params: Any) -> int:
        """``total_count``, once per (version, filter): pages at every offset and in every order of one
        filter share it (under load, pages 2, 3, ... of a search no longer scan again to count)."""
        counted = (dataset.version_uid, "total_count", sql, repr(params))
        return int(cache.get_or_compute(counted, lambda: str(int(engine.scalar(sql, params) or 0)).encode()))

    return cache.get_or_compute(
        key, lambda: json_body(query_records(engine, dataset, request, count=count).body())
    )


#: An export of at most this many records (a portal's "download these 1,000" button) is kept whole, as a
#: records page is; a bigger or unbounded one streams as before (and the body must fit the cache's share).
CACHED_EXPORT_ROWS = 10_000


def small_export_body(
    cache: ResponseCache,
    dataset: PublishedDataset,
    request: QueryRequest,
    variant: Hashable,
    start: Callable[[], Iterator[bytes]],
) -> bytes | None:
    """A bounded export's whole body, from the cache when this version exported it before; ``None`` for
    an export to stream (no limit, or more than ``CACHED_EXPORT_ROWS``). ``variant``: what else makes
    the bytes (format, options, compression); ``start()``: the stream, its slot claimed. Under 20
    clients, repeated small exports were the slow tail (1.5-3 s) of an otherwise cached mix."""
    limit = request.limit
    if cache.max_bytes <= 0 or limit is None or not 0 <= limit <= CACHED_EXPORT_ROWS:
        return None
    compiled = compile_for(dataset, request, "exports")  # a wrong query: its 400, before the cache
    key = (dataset.version_uid, "export", repr(variant), repr(compiled))

    def whole() -> bytes:
        chunks = start()
        try:
            return b"".join(chunks)
        finally:  # on an error too: the query's connection and the client's slot are given back
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return cache.get_or_compute(key, whole)


_made = threading.Lock()


def app_cache(state: Any, max_mb: int) -> ResponseCache:
    """The application's one cache, made at its first use (``state`` is ``app.state``)."""
    with _made:
        cache = getattr(state, "explore_cache", None)
        if cache is None:
            cache = state.explore_cache = ResponseCache(max_mb * MiB)
        return cache
