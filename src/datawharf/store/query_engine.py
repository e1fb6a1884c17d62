"""The query engine: DuckDB, embedded, reading a dataset version's Parquet files.

A small pool of connections, each its own in-memory DuckDB database with its own memory limit: one
query can never take more than ``memory_limit`` (past it DuckDB spills sorts, joins and aggregates to
``temp_directory``, or fails with ``query_out_of_memory``), whatever it is, and a heavy query never
starves its neighbours of memory. What DuckDB may hold in all is ``pool_size × memory_limit``. A caller
borrows a connection for one query, or for the life of a stream, and gives it back; when every connection
is busy the caller waits, then fails with the pool's busy error (``query_engine_busy``) rather than
queueing forever. The Explore API runs two pools: one for records and catalog queries, one for exports,
so a slow download never holds what a query needs.

The engine knows SQL, not ODSQL: it runs the SQL and parameters ``odsql.compile_query`` produced, over
a ``FROM`` expression built here from trusted paths (``source_sql``). Local files are read by DuckDB's
own ``read_parquet`` (the fast path). Files on another filesystem (the warehouse on S3) are read through
a pyarrow dataset on that filesystem, so no DuckDB extension is needed: ``source_sql`` names the version
with a view name derived from its files (``dw_arrow_<hash>``) and records the files in a process-wide
table (``ArrowSources``); before running a statement the engine registers the datasets it names on the
borrowed connection (each connection its own registrations, the least recently used dropped past
``VIEWS_PER_CONNECTION``). DuckDB pushes the query's projection and filters into the Arrow scan, which
prunes row groups by their statistics. A version's files never change, so a name always means the same
data, on every connection and every replica. DuckDB's errors are translated once,
here: a value that does not convert (``CAST``) or a timezone DuckDB does not know is the caller's
``query_failed`` (400); a query past its time budget is ``query_timeout`` (400), past its memory
``query_out_of_memory`` (400); anything else is the engine's ``query_engine_error`` (500), whose message
never carries the SQL or the warehouse's paths.

No extension is ever installed or loaded at run time (``icu`` and ``parquet`` are built in); the geo
predicates ODSQL compiles to are Python functions registered on each connection (``odsql.geo``).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from datawharf.errors import DatawharfError, InvalidInput
from datawharf.odsql import geo

DEFAULT_BATCH_ROWS = 64 * 1024
BATCH_CELLS = 1024 * 1024  # a stream's batch holds about this many values, however wide the result
MIN_BATCH_ROWS = 256

# DuckDB types of the warehouse convention (datawharf.odsql's docstring), for an empty version.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "geo_point_2d": "STRUCT(lon DOUBLE, lat DOUBLE)",
    "geo_shape": "VARCHAR",
}


class QueryFailed(InvalidInput):
    default_code = "query_failed"


class QueryEngineBusy(DatawharfError):
    http_status = 503
    default_code = "query_engine_busy"


class QueryEngineError(DatawharfError):
    default_code = "query_engine_error"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_local(filesystem: pafs.FileSystem | None) -> bool:
    """Whether DuckDB reads these files itself (local paths) rather than through Arrow."""
    return filesystem is None or isinstance(filesystem, pafs.LocalFileSystem)


ARROW_VIEW_PREFIX = "dw_arrow_"
_ARROW_VIEW = re.compile(ARROW_VIEW_PREFIX + r"[0-9a-f]{32}")
VIEWS_PER_CONNECTION = 32  # versions a connection keeps registered (the hot ones of a portal)
SOURCES_KEPT = 4096  # versions the process remembers between compiling a query and running it


@dataclass
class _Source:
    files: tuple[str, ...]
    filesystem: pafs.FileSystem
    dataset: pads.Dataset | None = None
    generation: int = 0  # bumped when the filesystem is replaced: connections then register anew
    lock: threading.Lock = field(default_factory=threading.Lock)


class ArrowSources:
    """The versions on a non-local filesystem that queries of this process name, by view name.

    A pyarrow dataset is built once per version and filesystem, on first use (it reads the first file's
    footer for the schema), then shared by every connection that registers it: a dataset is immutable
    and each scan makes its own scanner. The name depends on the files only, so the SQL of a query (and
    the response cache's key) stays the same when the warehouse's filesystem is remade with fresh
    credentials (``warehouse_s3.shared_warehouse``, every few minutes): the entry then takes the new
    filesystem and a new generation, and each connection registers the rebuilt dataset on its next use.
    The table is bounded (least recently named dropped): an entry is only needed between a query's
    compilation and its run.
    """

    def __init__(self, limit: int = SOURCES_KEPT) -> None:
        self._entries: OrderedDict[str, _Source] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, files: Sequence[str], filesystem: pafs.FileSystem) -> str:
        """The view name of these files (the same for the same files, in any process)."""
        digest = hashlib.sha256("\n".join([filesystem.type_name, *files]).encode()).hexdigest()[:32]
        name = ARROW_VIEW_PREFIX + digest
        with self._lock:
            source = self._entries.get(name)
            if source is None:
                self._entries[name] = _Source(tuple(files), filesystem)
                while len(self._entries) > self._limit:
                    self._entries.popitem(last=False)
                return name
            self._entries.move_to_end(name)
        if source.filesystem is not filesystem:
            with source.lock:  # outside the table's lock: a build in progress holds this one
                source.filesystem, source.dataset = filesystem, None
                source.generation += 1
        return name

    def dataset(self, name: str) -> tuple[pads.Dataset, int]:
        """The dataset behind a view name (built now if it is the first use) and its generation."""
        with self._lock:
            source = self._entries.get(name)
        if source is None:
            raise QueryEngineError(
                "The query engine no longer knows the files of this dataset version. Retry.",
                detail={"engine_error": "UnknownSource"},
            )
        with source.lock:  # one build per version, however many queries start at once
            if source.dataset is None:
                try:
                    source.dataset = pads.dataset(
                        list(source.files), filesystem=source.filesystem, format="parquet"
                    )
                except (pa.ArrowException, OSError) as exc:
                    raise QueryEngineError(
                        "The query engine failed to read this dataset's data. Retry; if it persists, "
                        "publish the dataset again and report it to the administrator.",
                        detail={"engine_error": type(exc).__name__},
                    ) from exc
            return source.dataset, source.generation


SOURCES = ArrowSources()


def source_sql(
    files: Sequence[str | Path],
    schema: Mapping[str, str] | None = None,
    filesystem: pafs.FileSystem | None = None,
) -> str:
    """The ``FROM`` expression over a version's files (paths in ``filesystem``; None: local paths).

    The paths come from the catalog, never from a request; local ones are still written as properly
    quoted SQL string literals (DuckDB takes no parameter in a table function's file list); files on
    another filesystem become a view name (``ArrowSources``) that the engine registers before running the
    query. A version without files reads as an empty relation with the schema's columns, so a query over
    it still type-checks.
    """
    if files and not is_local(filesystem):
        assert filesystem is not None
        return SOURCES.add([str(path) for path in files], filesystem)
    if files:
        return "read_parquet([" + ", ".join(_sql_string(str(path)) for path in files) + "])"
    columns = ", ".join(
        f"CAST(NULL AS {SQL_TYPES[ftype]}) AS {_quote_ident(name)}" for name, ftype in (schema or {}).items()
    )
    return f"(SELECT {columns or '1 AS _'} WHERE FALSE)"


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def batch_rows_for(columns: int) -> int:
    """Rows per streamed batch: 64 Ki rows of a narrow result, fewer of a wide one (1,000 columns of
    64 Ki rows would be a batch of a gigabyte, allocated outside DuckDB's memory limit)."""
    return max(MIN_BATCH_ROWS, min(DEFAULT_BATCH_ROWS, BATCH_CELLS // max(columns, 1)))


def translate_error(exc: duckdb.Error, memory_limit: str | None = None) -> DatawharfError:
    """DuckDB's exception as datawharf's: the caller's fault (400) or the engine's (500)."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryFailed(
            f"The query needed more memory than one query may use ({memory_limit or 'the limit'}). "
            "Narrow it with where, select fewer fields, group by fewer values or sort a smaller result; "
            "the administrator can raise DATAWHARF_QUERY_MEMORY_LIMIT.",
            error_code="query_out_of_memory",
            detail={"memory_limit": memory_limit},
        )
    if isinstance(exc, duckdb.InterruptException):
        return QueryFailed(
            "The query took longer than the engine allows and was stopped. Narrow it with where, or "
            "export the data and analyse it elsewhere.",
            error_code="query_timeout",
        )
    if f"reading the stream registered as '{ARROW_VIEW_PREFIX}" in str(exc):
        # The Arrow scan of a version on S3 failed (a file gone, the bucket unreachable): DuckDB reports
        # it as invalid input, but it is the warehouse's fault, and its message names the warehouse's keys.
        return QueryEngineError(
            "The query engine could not read this dataset's files from the warehouse. Retry; if it "
            "persists, the administrator should check that the warehouse's bucket is reachable.",
            detail={"engine_error": "WarehouseReadError"},
        )
    caller_errors = (
        duckdb.ConversionException,
        duckdb.OutOfRangeException,
        duckdb.InvalidInputException,
        duckdb.NotImplementedException,  # e.g. a timezone zoneinfo knows but DuckDB's ICU does not
    )
    if isinstance(exc, caller_errors):
        return QueryFailed(
            f"The query could not run: {_first_line(exc)}. Check the values and the timezone of the request.",
            detail={"engine_error": type(exc).__name__},
        )
    return QueryEngineError(
        "The query engine failed to read this dataset's data. Retry; if it persists, publish the "
        "dataset again and report it to the administrator.",
        detail={"engine_error": type(exc).__name__},
    )


def process_temp_directory(home: Path) -> Path:
    """A new DuckDB spill folder for this process's engines, ``<home>/duckdb-tmp/<host>-<pid>-<token>``.

    One per process (per app, when tests run several in one): several replicas, or a restart
    overlapping the old process, may share a home folder, and DuckDB's spill files are only ever its own
    connections'. The host is in the name because processes in containers on several machines often have
    the same pid. Folders of this host's processes that are gone (a kill -9 leaves its folder) are
    removed here; the caller removes its own at close (``remove_temp_directory``)."""
    root = home / "duckdb-tmp"
    host = socket.gethostname().replace("/", "_").replace("-", "_") or "host"
    if root.is_dir():
        for folder in root.iterdir():
            owner, _, rest = folder.name.partition("-")
            pid, _, _token = rest.partition("-")
            if owner == host and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
    mine = root / f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    mine.mkdir(parents=True)
    return mine


def remove_temp_directory(folder: Path) -> None:
    """Remove a process's spill folder once its engines are closed."""
    shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class QueryEngine:
    """A pool of DuckDB connections, each its own in-memory database.

    ``pool_size`` bounds the queries running at once; ``threads`` and ``memory_limit`` are DuckDB's own
    settings, for each connection (each spills to its own folder under ``temp_directory``). ``timeout``
    (seconds) interrupts a query that runs longer; on a stream it bounds the work until the first batch
    (where a sort or an aggregate runs), not the reading, whose pace is the client's. ``busy_code`` names
    the error of a pool whose connections all stayed busy for ``acquire_timeout`` seconds.
    """

    def __init__(
        self,
        *,
        pool_size: int = 4,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
        timeout: float | None = 60.0,
        acquire_timeout: float = 30.0,
        busy_code: str = "query_engine_busy",
    ) -> None:
        config: dict[str, Any] = {
            "threads": threads or max(1, min(os.cpu_count() or 1, 8)),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._pool: queue.LifoQueue[duckdb.DuckDBPyConnection] = queue.LifoQueue()
        self._databases: list[duckdb.DuckDBPyConnection] = []
        self._views: dict[int, OrderedDict[str, int]] = {}  # per connection: Arrow views registered
        for index in range(pool_size):
            if temp_directory is not None:
                spill = temp_directory / str(index)
                spill.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last level
                config["temp_directory"] = str(spill)
            database = duckdb.connect(":memory:", config=config)
            database.execute("SET TimeZone = 'UTC'")
            geo.register(database)  # the shape predicates compiled ODSQL calls (odsql.geo)
            self._databases.append(database)
            self._views[id(database)] = OrderedDict()
            self._pool.put(database)
        self.pool_size = pool_size
        self.memory_limit = memory_limit
        self.timeout = timeout
        self.acquire_timeout = acquire_timeout
        self.busy_code = busy_code
        self._lock = threading.Lock()
        self._closed = False
        self.statements_run = 0  # every statement sent to DuckDB: lets a test prove a refusal ran nothing

    # -- connections ----------------------------------------------------------------------------------
    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Borrow a connection; DuckDB errors raised inside come out translated."""
        if self._closed:
            raise QueryEngineError("The query engine is shut down.")
        try:
            con = self._pool.get(timeout=self.acquire_timeout)
        except queue.Empty:
            raise QueryEngineBusy(
                f"Every one of the {self.pool_size} connections stayed busy for "
                f"{self.acquire_timeout:.0f} s. Retry in a moment.",
                error_code=self.busy_code,
                detail={"pool_size": self.pool_size},
            ) from None
        try:
            yield con
        except duckdb.Error as exc:
            raise translate_error(exc, self.memory_limit) from exc
        finally:
            self._pool.put(con)

    @property
    def idle_connections(self) -> int:
        """Connections in the pool right now (``pool_size`` when nothing runs or streams)."""
        return self._pool.qsize()

    def attach_sources(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Register on this (borrowed) connection the Arrow datasets ``sql`` names (``source_sql``).

        Each connection keeps its own registrations, least recently used dropped past
        ``VIEWS_PER_CONNECTION``; only its borrower touches them, so no lock is needed."""
        views = self._views[id(con)]
        for name in dict.fromkeys(_ARROW_VIEW.findall(sql)):
            dataset, generation = SOURCES.dataset(name)
            if views.get(name) == generation:
                views.move_to_end(name)
                continue
            if name in views:
                con.unregister(name)  # the same files on a remade filesystem (fresh credentials)
            con.register(name, dataset)
            views[name] = generation
            views.move_to_end(name)
            while len(views) > VIEWS_PER_CONNECTION:
                oldest, _ = views.popitem(last=False)
                con.unregister(oldest)

    def _count(self) -> None:
        with self._lock:
            self.statements_run += 1

    @contextmanager
    def _deadline(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        if not self.timeout:
            yield
            return
        timer = threading.Timer(self.timeout, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    # -- queries --------------------------------------------------------------------------------------
    def fetch(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query; its column names and every row (for small results: a page, a count)."""
        with self.connection() as con, self._deadline(con):
            self.attach_sources(con, sql)
            self._count()
            cursor = con.execute(sql, list(params))
            names = [d[0] for d in cursor.description or ()]
            return names, cursor.fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        _names, rows = self.fetch(sql, params)
        return rows[0][0] if rows else None

    def fetch_arrow(
        self, sql: str, params: Sequence[Any] = (), *, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run one query into an Arrow table; ``tables`` are registered as views for this query only
        (the catalog's metadata table)."""
        with self.connection() as con, self._deadline(con):
            self.attach_sources(con, sql)
            for name, table in (tables or {}).items():
                con.register(name, table)
            try:
                self._count()
                return con.sql(sql, params=list(params)).to_arrow_table()
            finally:
                for name in tables or {}:
                    con.unregister(name)

    @contextmanager
    def stream(
        self, sql: str, params: Sequence[Any] = (), *, batch_rows: int | None = None
    ) -> Iterator[_TranslatingReader]:
        """Run a query as a stream of Arrow record batches, holding one connection until closed.

        DuckDB produces the batches as they are read, so a result of any size never sits in memory;
        ``batch_rows`` defaults to what keeps a batch near ``BATCH_CELLS`` values. The first batch is
        read here, within the timeout. Errors while reading come out translated, as from
        ``connection()``.
        """
        with self.connection() as con:
            self.attach_sources(con, sql)
            self._count()
            with self._deadline(con):
                relation = con.sql(sql, params=list(params))
                rows = batch_rows or batch_rows_for(len(relation.columns))
                reader = relation.to_arrow_reader(rows)
                try:
                    first = _read(reader, self.memory_limit)
                except BaseException:
                    reader.close()
                    raise
            try:
                yield _TranslatingReader(reader, first, self.memory_limit)
            finally:
                reader.close()

    def close(self) -> None:
        self._closed = True
        for database in self._databases:
            database.close()


def _read(reader: pa.RecordBatchReader, memory_limit: str | None) -> pa.RecordBatch | None:
    """The reader's next batch, None at the end; DuckDB's and Arrow's errors as datawharf's."""
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except duckdb.Error as exc:
        raise translate_error(exc, memory_limit) from exc
    except pa.ArrowException as exc:
        raise QueryEngineError(
            "The query engine failed while streaming the result. Retry the export.",
            detail={"engine_error": type(exc).__name__},
        ) from exc


class _TranslatingReader:
    """A record batch reader whose first batch is already read, and whose DuckDB errors (raised while
    reading) become datawharf's."""

    def __init__(
        self, reader: pa.RecordBatchReader, first: pa.RecordBatch | None, memory_limit: str | None
    ) -> None:
        self._reader = reader
        self._first = first
        self._memory_limit = memory_limit
        self.schema: pa.Schema = reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            batch, self._first = self._first, None
            if batch is None:
                batch = _read(self._reader, self._memory_limit)
            if batch is None:
                return
            yield batch
