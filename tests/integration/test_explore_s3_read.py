"""Explore reading a version stored on S3 (the moto S3 server) through pyarrow datasets registered in
DuckDB, against the very same Parquet files read locally by DuckDB's ``read_parquet``: records,
aggregates, record ids, facets, exports (csv, json, parquet, geojson), the v1 search and the response
cache must answer byte for byte the same.

The files are a real publish's (CSV on moto -> publish -> the local warehouse's part file), rewritten as
two files of several row groups each, then uploaded with pyarrow's S3 filesystem, so the S3 side reads a
multi-file version whose row groups the filters can prune.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from datawharf.datasets import catalog
from datawharf.datasets.catalog import PublishedDataset, PublishedField, get_published
from datawharf.explore import cache, facets, records, v1
from datawharf.exports import ExportOptions, open_export
from datawharf.odsql import QueryRequest
from datawharf.settings import Settings
from datawharf.store import query_engine
from datawharf.store.query_engine import QueryEngine, QueryEngineError
from datawharf.store.warehouse import make_warehouse
from tests.support.explore import csv_bytes, explore_client, make_rows, publish_csv
from tests.support.moto import REGION, MotoServer

ROW_COUNT = 3000
ROW_GROUP = 250


def s3_filesystem(server: MotoServer) -> pafs.S3FileSystem:
    access_key, secret_key = server.access_key
    return pafs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=REGION,
        endpoint_override=server.endpoint_url,
        scheme="http",
    )


@dataclass(frozen=True)
class Versions:
    local: PublishedDataset
    s3: PublishedDataset
    table: pa.Table
    bucket: str
    s3fs: pafs.S3FileSystem


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Versions]:
    work = tmp_path_factory.mktemp("explore-s3")
    with explore_client(work / "home", moto_server) as client:
        bucket = moto_server.create_bucket()
        rows = csv_bytes(make_rows(ROW_COUNT))
        published = publish_csv(client, moto_server, bucket, "items.csv", rows, "Items on S3")
        with client.app.state.database.session() as session:
            dataset = get_published(session, published["dataset_id"], client.app.state.settings)
    assert dataset is not None and len(dataset.files) == 1
    assert isinstance(dataset.files[0], str) and isinstance(dataset.filesystem, pafs.LocalFileSystem)
    table = pq.read_table(dataset.files[0])
    halves = [table.slice(0, ROW_COUNT // 2), table.slice(ROW_COUNT // 2)]
    fs = s3_filesystem(moto_server)
    local_files, s3_files = [], []
    for index, half in enumerate(halves):
        name = f"part-{index:05d}.parquet"
        local = work / "local" / name
        local.parent.mkdir(exist_ok=True)
        pq.write_table(half, local, row_group_size=ROW_GROUP, compression="zstd")
        key = f"{bucket}/warehouse/{dataset.uid}/{dataset.version_uid}/{name}"
        with fs.open_output_stream(key) as out:
            out.write(local.read_bytes())
        local_files.append(str(local))
        s3_files.append(key)
    yield Versions(
        local=dataclasses.replace(dataset, files=tuple(local_files), filesystem=None),
        s3=dataclasses.replace(dataset, files=tuple(s3_files), filesystem=fs),
        table=table,
        bucket=bucket,
        s3fs=fs,
    )


@pytest.fixture(scope="module")
def engine() -> Iterator[QueryEngine]:
    engine = QueryEngine(pool_size=2, memory_limit="256MB", timeout=60)
    yield engine
    engine.close()


REQUESTS = [
    QueryRequest(),  # the first page, in file order
    QueryRequest(limit=100, offset=1450),  # across the two files
    QueryRequest(select="id, name, population", where="population > 2000000", order_by="id desc", limit=50),
    QueryRequest(where="city = 'Lyon' and founded >= date'2021-06-01'", order_by="updated", limit=100),
    QueryRequest(where="search('élysée')", limit=100),
    QueryRequest(where="within_distance(location, geom'POINT(2.35 48.85)', 5km)", order_by="id", limit=100),
    QueryRequest(
        select="city, count(*) as n, sum(population) as pop, avg(surface_km2) as s, max(updated) as last",
        group_by="city",
        order_by="city",
    ),
    QueryRequest(select="year(founded) as y, count(*) as n", group_by="year(founded)", order_by="y"),
    QueryRequest(refine=["city:Paris"], exclude=["founded:2021"], order_by="id", limit=100),
    QueryRequest(select="id, updated", order_by="updated desc", limit=5, timezone="Europe/Paris"),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=[str(i) for i in range(len(REQUESTS))])
def test_records_on_s3_are_the_local_records(versions: Versions, engine: QueryEngine, request_: Any) -> None:
    local = records.query_records(engine, versions.local, request_, ids=True)
    on_s3 = records.query_records(engine, versions.s3, request_, ids=True)
    assert on_s3 == local
    assert local.total_count > 0 and local.results


def test_the_default_page_is_file_order_across_files(versions: Versions, engine: QueryEngine) -> None:
    page = records.query_records(engine, versions.s3, QueryRequest(select="id", limit=-1), mode="exports")
    assert [r["id"] for r in page.results] == versions.table.column("id").to_pylist()


def test_a_record_by_id_and_the_facets(versions: Versions, engine: QueryEngine) -> None:
    page = records.query_records(engine, versions.local, QueryRequest(offset=2000, limit=1), ids=True)
    record_id = page.results[0]["_id"]
    request = QueryRequest()
    assert records.get_record(engine, versions.s3, record_id, request) == records.get_record(
        engine, versions.local, record_id, request
    )
    asked = ["city", "founded", "population"]
    filtered = QueryRequest(where="population < 2000000", refine=["city:Lille"])
    for request in (QueryRequest(), filtered):
        local = facets.dataset_facets(engine, versions.local, request, asked)
        assert facets.dataset_facets(engine, versions.s3, request, asked) == local
        assert local["facets"][0]["facets"]


def _export(engine: QueryEngine, dataset: PublishedDataset, request: QueryRequest, name: str) -> bytes:
    export = open_export(engine, dataset, request, name, ExportOptions())
    return b"".join(export.chunks)


@pytest.mark.parametrize("format_name", ["csv", "json", "parquet", "geojson", "jsonl"])
def test_exports_on_s3_are_the_local_exports(
    versions: Versions, engine: QueryEngine, format_name: str
) -> None:
    for request in (QueryRequest(), QueryRequest(where="city = 'Marseille'", order_by="id desc", limit=300)):
        local = _export(engine, versions.local, request, format_name)
        assert _export(engine, versions.s3, request, format_name) == local
        assert len(local) > 1000
    whole = pq.read_table(io.BytesIO(_export(engine, versions.s3, QueryRequest(), "parquet")))
    assert whole.num_rows == ROW_COUNT


def test_the_v1_search_and_the_response_cache(versions: Versions, engine: QueryEngine) -> None:
    search = v1.V1Search(q="Paris", rows=20, sort=["-id"], facet=["city"])
    assert v1.search_records(engine, versions.s3, search) == v1.search_records(engine, versions.local, search)
    request = QueryRequest(where="population > 100000", order_by="id", limit=20)
    local_cache, s3_cache = cache.ResponseCache(8 * 1024 * 1024), cache.ResponseCache(8 * 1024 * 1024)
    body = cache.records_body(local_cache, engine, versions.local, request)
    assert cache.records_body(s3_cache, engine, versions.s3, request) == body
    assert cache.records_body(s3_cache, engine, versions.s3, request) == body  # from the cache now
    assert s3_cache.hits >= 1


def test_every_connection_registers_the_version_itself(versions: Versions) -> None:
    """Queries spread over every connection of a pool, each registering the version on first use; past
    ``VIEWS_PER_CONNECTION`` versions the oldest registration is dropped and a later query re-registers."""
    engine = QueryEngine(pool_size=3)
    try:
        sql = f"SELECT count(*) FROM {records.version_source(versions.s3, records.schema_of(versions.s3))}"
        with engine.connection() as a, engine.connection() as b, engine.connection() as c:
            for con in (a, b, c):
                engine.attach_sources(con, sql)
                assert con.execute(sql).fetchall() == [(ROW_COUNT,)]
        others = [
            dataclasses.replace(versions.s3, files=(versions.s3.files[0],), version_uid=f"ve_{i}")
            for i in range(query_engine.VIEWS_PER_CONNECTION + 1)
        ]
        for index, other in enumerate(others):  # distinct files: distinct views (same file, other name)
            other = dataclasses.replace(other, files=(*other.files, *([other.files[0]] * index)))
            source = records.version_source(other, records.schema_of(other))
            assert engine.scalar(f"SELECT count(*) FROM {source}") == (ROW_COUNT // 2) * (index + 1)
        assert engine.scalar(sql) == ROW_COUNT
    finally:
        engine.close()


def test_projection_and_filters_reach_the_arrow_scan(versions: Versions, engine: QueryEngine) -> None:
    compiled = records.compile_for(versions.s3, QueryRequest(select="id", where="id = 42"), "records")
    with engine.connection() as con:
        engine.attach_sources(con, compiled.sql)
        explained = con.execute("EXPLAIN " + compiled.sql, compiled.params).fetchall()
    plan = "\n".join(str(row[1]) for row in explained)
    assert "ARROW_SCAN" in plan
    assert "Projections: id" in plan and "name" not in plan.split("ARROW_SCAN", 1)[1]
    assert "Filters:" in plan and "id=42" in plan.replace(" ", "").replace('"', "")


class CountingHandler(pafs.FileSystemHandler):
    """The S3 filesystem, counting the bytes its readers return (what a query fetched from S3)."""

    def __init__(self, fs: pafs.FileSystem) -> None:
        self.fs = fs
        self.read = 0

    def get_type_name(self) -> str:
        # The same view name for every handler: a new filesystem object for the same files replaces the
        # engine's dataset (as fresh credentials do), so each query reads through its own handler.
        return "counting"

    def open_input_file(self, path: str) -> pa.NativeFile:
        inner = self.fs.open_input_file(path)
        handler = self

        class Counted(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def seekable(self) -> bool:
                return True

            def seek(self, offset: int, whence: int = 0) -> int:
                return inner.seek(offset, whence)

            def tell(self) -> int:
                return inner.tell()

            def readinto(self, buffer: Any) -> int:
                data = inner.read(len(buffer))
                handler.read += len(data)
                buffer[: len(data)] = data
                return len(data)

            def read(self, size: int = -1) -> bytes:
                data = inner.read(size)
                handler.read += len(data)
                return data

            def size(self) -> int:
                return inner.size()

        return pa.PythonFile(Counted(), mode="r")

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(selector)

    def normalize_path(self, path: str) -> str:
        return path

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    def create_dir(self, path: str, recursive: bool) -> None:
        raise NotImplementedError

    def delete_dir(self, path: str) -> None:
        raise NotImplementedError

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        raise NotImplementedError

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def copy_file(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.fs.open_input_stream(path)

    def open_output_stream(self, path: str, metadata: Any = None) -> pa.NativeFile:
        raise NotImplementedError

    def open_append_stream(self, path: str, metadata: Any = None) -> pa.NativeFile:
        raise NotImplementedError


def test_a_narrow_filtered_query_reads_a_fraction_of_the_bytes(
    versions: Versions, engine: QueryEngine
) -> None:
    """Counted at the filesystem: a version of 8 row groups of an id and a wide text column (row groups
    big enough that Arrow's read coalescing does not merge the column chunks)."""
    rows, groups = 80_000, 8
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "pad": pa.array([os.urandom(32).hex() for _ in range(rows)], pa.string()),
        }
    )
    key = f"{versions.bucket}/warehouse/wide/ve_wide/part-00000.parquet"
    with versions.s3fs.open_output_stream(key) as out:
        pq.write_table(table, out, row_group_size=rows // groups, compression="zstd")
    size = versions.s3fs.get_file_info(key).size
    wide = dataclasses.replace(
        versions.s3,
        fields=(PublishedField("id", "id", "int", None, ()), PublishedField("pad", "pad", "text", None, ())),
        files=(key,),
        version_uid="ve_wide",
    )

    def bytes_read(request: QueryRequest) -> tuple[int, list[dict[str, Any]]]:
        handler = CountingHandler(versions.s3fs)
        counted = dataclasses.replace(wide, filesystem=pafs.PyFileSystem(handler))
        page = records.query_records(engine, counted, request)
        return handler.read, page.results

    everything, _ = bytes_read(QueryRequest(select="*", order_by="pad", limit=1))
    one_column, summed = bytes_read(QueryRequest(select="sum(id) as s"))
    one_group, found = bytes_read(QueryRequest(select="id", where="id = 1234"))
    assert summed == [{"s": rows * (rows - 1) // 2}] and found == [{"id": 1234}]
    assert everything >= size * 0.9  # every column of every row group
    assert one_group > 0  # read through its own handler, not the dataset built on the previous one
    assert one_column < size / 5  # the id column chunks and the footer only
    assert one_group < one_column * 0.75  # (its count, then its page) row groups without id 1234 skipped


def test_a_missing_file_is_the_engines_error_not_the_callers(versions: Versions, engine: QueryEngine) -> None:
    """A version whose files are gone, before the first query (the dataset cannot be built) or after it
    (the Arrow scan fails inside DuckDB, which calls that invalid input): a 500 of the engine, naming no
    warehouse key; the other versions still answer."""
    key = f"{versions.bucket}/warehouse/gone/part-00000.parquet"
    gone = dataclasses.replace(versions.s3, files=(key,), version_uid="ve_gone")
    later = f"{versions.bucket}/warehouse/later/part-00000.parquet"
    versions.s3fs.copy_file(versions.s3.files[0], later)
    removed = dataclasses.replace(versions.s3, files=(later,), version_uid="ve_later")
    assert records.query_records(engine, removed, QueryRequest(limit=1)).total_count == ROW_COUNT // 2
    versions.s3fs.delete_file(later)
    for dataset in (gone, removed):
        with pytest.raises(QueryEngineError) as failed:
            records.query_records(engine, dataset, QueryRequest(where="id > 3"))
        assert failed.value.http_status == 500 and failed.value.error_code == "query_engine_error"
        assert versions.bucket not in failed.value.message + str(failed.value.detail)
        with pytest.raises(QueryEngineError):
            open_export(engine, dataset, QueryRequest(), "csv")
    assert records.query_records(engine, versions.s3, QueryRequest(limit=1)).total_count == ROW_COUNT


def test_the_temp_folder_is_this_process_and_removed_at_close(tmp_path: Path) -> None:
    first = query_engine.process_temp_directory(tmp_path)
    second = query_engine.process_temp_directory(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert f"-{os.getpid()}-" in first.name and first.parent == tmp_path / "duckdb-tmp"
    dead = tmp_path / "duckdb-tmp" / first.name.replace(f"-{os.getpid()}-", "-999999999-")
    dead.mkdir()
    (dead / "spill.tmp").write_bytes(b"x")
    other_host = tmp_path / "duckdb-tmp" / "otherhost-999999999-abcd"
    other_host.mkdir()
    third = query_engine.process_temp_directory(tmp_path)
    assert not dead.exists() and other_host.exists() and first.exists()
    engine = QueryEngine(pool_size=2, temp_directory=third / "query")
    engine.close()
    query_engine.remove_temp_directory(third)
    assert not third.exists()


def test_queries_at_once_on_every_connection_share_one_dataset(versions: Versions) -> None:
    """Threads on a pool of three: each connection registers the version once, the scans of the shared
    pyarrow dataset run side by side, and every answer is the local one."""
    engine = QueryEngine(pool_size=3, threads=1)
    asks = [REQUESTS[2], REQUESTS[6], REQUESTS[8]]
    expected = [records.query_records(engine, versions.local, r, ids=True) for r in asks]
    failures: list[BaseException] = []
    answers: list[bool] = []

    def run(index: int) -> None:
        try:
            for turn in range(4):
                which = (index + turn) % len(asks)
                page = records.query_records(engine, versions.s3, asks[which], ids=True)
                answers.append(page == expected[which])
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == [] and answers == [True] * 24
    finally:
        engine.close()


def test_a_part_shared_with_an_older_version_is_read_from_its_folder_on_s3(
    tmp_path: Path, moto_server: MotoServer, versions: Versions, engine: QueryEngine
) -> None:
    """An incremental version names the parts it carries over as ``../<data_uid>/part-...``; on the S3
    warehouse the catalog resolves them to the older version's keys (a key with ``..`` names nothing)."""
    settings = Settings(
        home=tmp_path / "home",
        allowed_private_hosts=[moto_server.host_port],
        warehouse_url=f"s3://{versions.bucket}/wh",
        warehouse_endpoint_url=moto_server.endpoint_url,
        warehouse_access_key_id="testing",
        warehouse_secret_access_key="testing",
    )
    warehouse = make_warehouse(settings)
    old, new = warehouse.version_path("da_x", "d_old"), warehouse.version_path("da_x", "d_new")
    versions.s3fs.copy_file(versions.s3.files[0], f"{old}/part-00000.parquet")
    versions.s3fs.copy_file(versions.s3.files[1], f"{new}/part-00000.parquet")
    dataset = SimpleNamespace(uid="da_x")
    version = SimpleNamespace(data_uid="d_new", files=["../d_old/part-00000.parquet", "part-00000.parquet"])
    filesystem, files = catalog._version_files(warehouse, dataset, version)  # type: ignore[arg-type]
    assert files == (f"{old}/part-00000.parquet", f"{new}/part-00000.parquet")
    shared = dataclasses.replace(versions.s3, files=files, filesystem=filesystem, version_uid="ve_shared")
    request = QueryRequest(select="id", order_by="id", limit=-1)
    assert records.query_records(engine, shared, request, mode="exports") == records.query_records(
        engine, versions.local, request, mode="exports"
    )
