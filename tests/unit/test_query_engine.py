"""The query engine on real Parquet files in tmp_path: the pool, streams, error translation, timeouts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datawharf.errors import InvalidInput
from datawharf.store.query_engine import (
    BATCH_CELLS,
    DEFAULT_BATCH_ROWS,
    MIN_BATCH_ROWS,
    QueryEngine,
    QueryEngineBusy,
    QueryEngineError,
    QueryFailed,
    batch_rows_for,
    source_sql,
)


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "it's a part.parquet"  # a quote in the path: source_sql must quote it
    pq.write_table(pa.table({"n": pa.array(range(100_000), pa.int64()), "s": ["x", "1"] * 50_000}), path)
    return path


def test_fetch_scalar_and_statement_count(parquet: Path) -> None:
    engine = QueryEngine(pool_size=2)
    try:
        names, rows = engine.fetch(f"SELECT n, s FROM {source_sql([parquet])} WHERE n < $1 ORDER BY n", [3])
        assert names == ["n", "s"]
        assert rows == [(0, "x"), (1, "1"), (2, "x")]
        assert engine.scalar(f"SELECT sum(n) FROM {source_sql([parquet, parquet])}") == 2 * sum(
            range(100_000)
        )
        assert engine.statements_run == 2
    finally:
        engine.close()


def test_an_empty_version_reads_as_typed_empty_columns() -> None:
    engine = QueryEngine(pool_size=1)
    try:
        schema = {"a": "int", "p": "geo_point_2d", "t": "datetime"}
        names, rows = engine.fetch(f"SELECT * FROM {source_sql([], schema)}")
        assert (names, rows) == (["a", "p", "t"], [])
        described = engine.fetch(f"DESCRIBE SELECT * FROM {source_sql([], schema)}")[1]
        assert [(row[0], row[1]) for row in described] == [
            ("a", "BIGINT"),
            ("p", "STRUCT(lon DOUBLE, lat DOUBLE)"),
            ("t", "TIMESTAMP WITH TIME ZONE"),
        ]
    finally:
        engine.close()


def test_stream_holds_its_connection_until_closed(parquet: Path) -> None:
    engine = QueryEngine(pool_size=1, acquire_timeout=0.2)
    try:
        with engine.stream(f"SELECT n FROM {source_sql([parquet])}", batch_rows=10_000) as reader:
            first = next(iter(reader))
            assert first.num_rows > 0
            with pytest.raises(QueryEngineBusy) as busy:
                engine.fetch("SELECT 1")
            assert busy.value.http_status == 503
            total = first.num_rows + sum(b.num_rows for b in reader)
        assert total == 100_000
        assert engine.fetch("SELECT 1")[1] == [(1,)]  # given back
    finally:
        engine.close()


def test_duckdb_errors_are_translated(parquet: Path) -> None:
    engine = QueryEngine(pool_size=1)
    try:
        with pytest.raises(QueryFailed) as failed:
            engine.fetch(f"SELECT CAST(s AS INTEGER) FROM {source_sql([parquet])}")
        assert failed.value.http_status == 400
        assert failed.value.error_code == "query_failed"
        assert "Could not convert" in failed.value.message
        with pytest.raises(QueryFailed) as zone:
            engine.fetch("SELECT timezone('Mars/Olympus_Mons', now())")
        assert "Mars/Olympus_Mons" in zone.value.message
        with pytest.raises(QueryEngineError) as broken:
            engine.fetch(f"SELECT * FROM {source_sql([parquet.with_name('missing.parquet')])}")
        assert broken.value.http_status == 500
        assert (
            "missing.parquet" not in broken.value.message and str(parquet.parent) not in broken.value.message
        )
        with (
            pytest.raises(QueryFailed),
            engine.stream(f"SELECT CAST(s AS INTEGER) FROM {source_sql([parquet])}") as r,
        ):
            list(r)
        assert engine.fetch("SELECT 2")[1] == [(2,)]  # the connection survived each error
    finally:
        engine.close()


def test_a_query_past_the_timeout_is_interrupted() -> None:
    engine = QueryEngine(pool_size=1, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(InvalidInput) as slow:
            engine.fetch("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3")
        assert slow.value.error_code == "query_timeout"
        assert time.monotonic() - started < 10
    finally:
        engine.close()


def test_pool_runs_queries_side_by_side(parquet: Path) -> None:
    engine = QueryEngine(pool_size=3)
    results: list[int] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: results.append(engine.scalar(f"SELECT count(*) FROM {source_sql([parquet])}"))
            )
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [100_000] * 6
    finally:
        engine.close()


HUNGRY = "SELECT max(len(l)) FROM (SELECT list(range) AS l FROM range(20000000))"  # 160 MB in one list


def test_each_connection_is_its_own_database_with_its_own_memory_limit(tmp_path: Path) -> None:
    engine = QueryEngine(pool_size=2, memory_limit="32MB", temp_directory=tmp_path / "spill")
    try:
        with engine.connection() as first, engine.connection() as second:
            assert first is not second
            first.execute("CREATE TABLE mine AS SELECT 1 AS x")
            with pytest.raises(duckdb.CatalogException):  # not the same database: nothing is shared
                second.execute("SELECT * FROM mine")
            for con in (first, second):
                limit, temp = con.execute(
                    "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
                ).fetchone()
                assert limit == "30.5 MiB"
                assert Path(temp).parent == tmp_path / "spill" and Path(temp).is_dir()
    finally:
        engine.close()


def test_a_query_past_the_memory_limit_is_a_clean_400_and_the_engine_goes_on() -> None:
    engine = QueryEngine(pool_size=1, memory_limit="32MB")
    try:
        with pytest.raises(QueryFailed) as hungry:
            engine.fetch(HUNGRY)
        assert (hungry.value.http_status, hungry.value.error_code) == (400, "query_out_of_memory")
        assert "32MB" in hungry.value.message and "DATAWHARF_QUERY_MEMORY_LIMIT" in hungry.value.message
        assert hungry.value.detail == {"memory_limit": "32MB"}
        with pytest.raises(QueryFailed) as streamed, engine.stream(HUNGRY) as reader:
            list(reader)
        assert streamed.value.error_code == "query_out_of_memory"
        assert engine.fetch("SELECT 3")[1] == [(3,)]
    finally:
        engine.close()


def test_a_stream_is_timed_until_its_first_batch() -> None:
    engine = QueryEngine(pool_size=1, timeout=0.3)
    try:
        started = time.monotonic()
        with (
            pytest.raises(InvalidInput) as slow,
            engine.stream("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3"),
        ):
            pass
        assert slow.value.error_code == "query_timeout"
        assert time.monotonic() - started < 10
        assert engine.idle_connections == 1
    finally:
        engine.close()


def test_wide_results_stream_in_smaller_batches() -> None:
    assert batch_rows_for(3) == DEFAULT_BATCH_ROWS
    assert batch_rows_for(1000) == BATCH_CELLS // 1000
    assert batch_rows_for(100_000) == MIN_BATCH_ROWS
    engine = QueryEngine(pool_size=1)
    columns = ", ".join(f"range AS c{i}" for i in range(500))
    try:
        with engine.stream(f"SELECT {columns} FROM range(10000)") as reader:
            sizes = [batch.num_rows for batch in reader]
        assert sum(sizes) == 10_000
        assert max(sizes) <= batch_rows_for(500) < 10_000
    finally:
        engine.close()


def test_a_busy_pool_names_its_own_error() -> None:
    engine = QueryEngine(pool_size=1, acquire_timeout=0.1, busy_code="export_engine_busy")
    try:
        with engine.connection(), pytest.raises(QueryEngineBusy) as busy:
            engine.fetch("SELECT 1")
        assert (busy.value.http_status, busy.value.error_code) == (503, "export_engine_busy")
        assert busy.value.detail == {"pool_size": 1}
    finally:
        engine.close()
