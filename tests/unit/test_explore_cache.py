"""The Explore response cache (issue 16, item 3): bounded, single-flight, keyed by version and compiled
query, failures not kept; and the records it serves are the records DuckDB computes."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datawharf.datasets.catalog import PublishedDataset, PublishedField
from datawharf.explore.cache import ResponseCache, json_body, records_body
from datawharf.explore.records import query_records
from datawharf.odsql import QueryRequest
from datawharf.odsql.errors import ODSQLError
from datawharf.store.query_engine import QueryEngine


def test_a_key_is_computed_once_and_then_served() -> None:
    cache = ResponseCache(1024)
    calls: list[int] = []
    for _ in range(3):
        assert cache.get_or_compute("k", lambda: calls.append(1) or b"body") == b"body"
    assert calls == [1]
    assert cache.stats() == {"entries": 1, "bytes": 4, "hits": 2, "misses": 1}


def test_the_least_recently_used_go_first_when_the_bytes_run_out() -> None:
    cache = ResponseCache(80)  # an entry may weigh up to 80 // 8 = 10 bytes
    for key in "abcdefgh":
        cache.get_or_compute(key, lambda: b"x" * 10)
    cache.get_or_compute("a", lambda: b"y" * 10)  # "a" was evicted: computed again, and now newest
    cache.get_or_compute("i", lambda: b"x" * 10)
    assert cache.stats()["bytes"] <= 80
    computed: list[str] = []
    for key in ("a", "i", "b"):
        cache.get_or_compute(key, lambda key=key: computed.append(key) or b"z")
    assert computed == ["b"]  # a and i are kept; b, among the oldest, is gone


def test_a_body_too_big_for_its_share_is_served_but_not_kept() -> None:
    cache = ResponseCache(800)
    assert cache.get_or_compute("big", lambda: b"x" * 101) == b"x" * 101
    assert cache.stats()["entries"] == 0


def test_zero_bytes_turns_it_off() -> None:
    cache = ResponseCache(0)
    calls: list[int] = []
    for _ in range(2):
        cache.get_or_compute("k", lambda: calls.append(1) or b"body")
    assert calls == [1, 1]


def test_identical_requests_arriving_together_run_once() -> None:
    cache = ResponseCache(1024)
    started = threading.Event()
    calls: list[int] = []

    def slow() -> bytes:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return b"answer"

    answers: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.get_or_compute("k", slow))) for _ in range(8)
    ]
    threads[0].start()
    started.wait(5)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [b"answer"] * 8 and calls == [1]


def test_a_failure_is_not_kept_and_the_waiters_try_again() -> None:
    cache = ResponseCache(1024)
    attempts: list[int] = []

    def flaky() -> bytes:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("DuckDB went away")
        return b"ok"

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", flaky)
    assert cache.get_or_compute("k", flaky) == b"ok" and len(attempts) == 2


@pytest.fixture
def engine() -> QueryEngine:
    engine = QueryEngine(pool_size=2)
    yield engine
    engine.close()


def _dataset(path: Path, version: str, amounts: list[float]) -> PublishedDataset:
    pq.write_table(pa.table({"city": ["Paris", "Lyon", "Paris"], "amount": amounts}), path)
    return PublishedDataset(
        uid="da_x",
        dataset_id="x",
        metadata={},
        fields=(
            PublishedField("city", "City", "text", None, ()),
            PublishedField("amount", "Amount", "double", None, ()),
        ),
        files=(str(path),),
        is_restricted=False,
        modified=None,
        version_uid=version,
        records_count=3,
    )


def test_records_are_duckdbs_keyed_by_the_compiled_query_and_the_version(
    tmp_path: Path, engine: QueryEngine
) -> None:
    cache = ResponseCache(1 << 20)
    first = _dataset(tmp_path / "v1.parquet", "ve_1", [1.0, 2.0, 3.0])
    asked = QueryRequest(where="city = 'Paris'", order_by="amount desc")
    body = records_body(cache, engine, first, asked)
    assert body == json_body(query_records(engine, first, asked).body())
    assert b'"total_count":2' in body
    # The same query written otherwise compiles to the same SQL: served from the cache.
    records_body(cache, engine, first, QueryRequest(where="city='Paris'", order_by="amount  DESC"))
    assert cache.stats()["hits"] == 1
    # A new version (new files) is a new key: its answer, not the old one.
    second = _dataset(tmp_path / "v2.parquet", "ve_2", [10.0, 20.0, 30.0])
    assert b"30.0" in records_body(cache, engine, second, asked)
    assert cache.stats()["misses"] == 4  # each version: its page, and its total_count
    with pytest.raises(ODSQLError):  # a wrong query is its 400, never a cached answer
        records_body(cache, engine, first, QueryRequest(where="nope = 1"))


def test_total_count_is_counted_once_per_version_and_filter(tmp_path: Path, engine: QueryEngine) -> None:
    """Pages at other offsets and in other orders of one filter share its ``total_count``."""
    cache = ResponseCache(1 << 20)
    dataset = _dataset(tmp_path / "v1.parquet", "ve_1", [1.0, 2.0, 3.0])
    pages = [
        QueryRequest(where="city = 'Paris'", limit=1, offset=0),
        QueryRequest(where="city = 'Paris'", limit=1, offset=1),
        QueryRequest(where="city = 'Paris'", limit=1, offset=5),  # past the end: the count alone
        QueryRequest(where="city = 'Paris'", order_by="amount desc", limit=1),
    ]
    for asked in pages:
        assert records_body(cache, engine, dataset, asked) == json_body(
            query_records(engine, dataset, asked).body()
        )
    assert cache.stats()["misses"] == len(pages) + 1 and cache.stats()["hits"] == len(pages) - 1
    other = QueryRequest(where="city = 'Lyon'", limit=1)
    assert b'"total_count":1' in records_body(cache, engine, dataset, other)  # another filter: its own count
    assert cache.stats()["misses"] == len(pages) + 3


def test_a_bounded_export_is_kept_whole_and_an_unbounded_one_streams(
    tmp_path: Path, engine: QueryEngine
) -> None:
    from datawharf.explore.cache import CACHED_EXPORT_ROWS, small_export_body
    from datawharf.exports import open_export

    cache = ResponseCache(1 << 20)
    dataset = _dataset(tmp_path / "v1.parquet", "ve_1", [1.0, 2.0, 3.0])
    started: list[QueryRequest] = []

    def start_for(asked: QueryRequest) -> Any:
        def start() -> Any:
            started.append(asked)
            return open_export(engine, dataset, asked, "csv").chunks

        return start

    asked = QueryRequest(where="city = 'Paris'", order_by="amount", limit=1000)
    streamed = b"".join(open_export(engine, dataset, asked, "csv").chunks)
    assert small_export_body(cache, dataset, asked, ("csv",), start_for(asked)) == streamed
    assert streamed == '\ufeff"city";"amount"\n"Paris";1\n"Paris";3\n'.encode()
    same = QueryRequest(where="city='Paris'", order_by="amount ASC", limit=1000)  # compiles the same
    assert small_export_body(cache, dataset, same, ("csv",), start_for(same)) == streamed
    assert len(started) == 1 and cache.stats()["hits"] == 1
    assert small_export_body(cache, dataset, asked, ("json",), start_for(asked)) is not None  # its own bytes
    assert len(started) == 2
    for unbounded in (QueryRequest(), QueryRequest(limit=-1), QueryRequest(limit=CACHED_EXPORT_ROWS + 1)):
        assert small_export_body(cache, dataset, unbounded, ("csv",), start_for(unbounded)) is None
    assert len(started) == 2
    with pytest.raises(ODSQLError):
        small_export_body(cache, dataset, QueryRequest(where="nope = 1", limit=5), ("csv",), start_for(asked))
