"""The peers: the few lines a user would write with DuckDB, pyarrow, polars or pandas instead of datawharf.

Each function is a contender ``(obj, out_dir) -> dict``, run in its own process by ``bench.measure``.
Previews return the first 20 records' column names and types; imports write ``out_dir/out.parquet`` and
return ``{"output": path}`` (the harness then counts its rows and checks its types). Every peer runs with
its defaults except where the data would otherwise fail to load (pyarrow needs ``newlines_in_values``
for quoted newlines) — the point is what a user gets, types included.

DuckDB: its ``s3://`` support is the httpfs extension, downloaded on first use; it is not in the duckdb
2.0 wheel and cannot be downloaded here, so DuckDB reads through an s3fs filesystem registered with
``register_filesystem`` (Python, each DuckDB read a ranged GET). That is slower than httpfs would be
(the httpfs wheel on PyPI, duckdb-ext-httpfs, is built for DuckDB 1.4.4 and refuses to load in 2.0.1),
and the README says so. A pyarrow S3FileSystem wrapped by fsspec's ArrowFSWrapper was tried too: DuckDB
read corrupt bytes through it ("Invalid unicode" mid-file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.objects import Contender, S3Object

PREVIEW_ROWS = 20
ALL_FORMATS = ("csv", "csvgz", "jsonl", "parquet")


def _output(out_dir: Path) -> Path:
    return out_dir / "out.parquet"


def _columns_of_arrow(schema: Any) -> dict[str, str]:
    return {field.name: str(field.type) for field in schema}


# --- DuckDB ------------------------------------------------------------------------------------------


def _duckdb(obj: S3Object) -> Any:
    import duckdb
    import s3fs

    connection = duckdb.connect()
    connection.register_filesystem(_s3fs(obj, s3fs))
    return connection


def _duckdb_reader(obj: S3Object) -> str:
    function = {"csv": "read_csv", "csvgz": "read_csv", "jsonl": "read_json", "parquet": "read_parquet"}
    return f"{function[obj.format]}('{obj.url}')"


def duckdb_preview(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    relation = _duckdb(obj).sql(f"SELECT * FROM {_duckdb_reader(obj)} LIMIT {PREVIEW_ROWS}")
    rows = relation.fetchall()
    return {"rows": len(rows), "columns": dict(zip(relation.columns, map(str, relation.types), strict=True))}


def duckdb_import(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    output = _output(out_dir)
    _duckdb(obj).execute(f"COPY (SELECT * FROM {_duckdb_reader(obj)}) TO '{output}' (FORMAT parquet)")
    return {"output": str(output)}


# --- pyarrow -----------------------------------------------------------------------------------------

#: pyarrow's default 1 MiB block would also be one Parquet row group per MiB of CSV; 16 MiB is what the
#: docs suggest for throughput, and keeps row groups of a sane size.
PYARROW_BLOCK_SIZE = 16 * 1024 * 1024


def _pyarrow_fs(obj: S3Object) -> Any:
    from pyarrow import fs

    return fs.S3FileSystem(
        access_key=obj.access_key,
        secret_key=obj.secret_key,
        region=obj.region,
        endpoint_override=obj.host_port,
        scheme="http",
    )


def _pyarrow_batches(obj: S3Object, block_size: int) -> Any:
    """A streaming reader (``read_next_batch``, ``schema``) over the object, decompressing by extension."""
    import pyarrow.csv as csv
    import pyarrow.json as json
    import pyarrow.parquet as pq

    filesystem = _pyarrow_fs(obj)
    path = f"{obj.bucket}/{obj.key}"
    if obj.format == "parquet":
        parquet_file = pq.ParquetFile(filesystem.open_input_file(path))
        return parquet_file.schema_arrow, parquet_file.iter_batches()
    stream = filesystem.open_input_stream(path)  # compression="detect": .gz is inflated on the fly
    if obj.format == "jsonl":
        reader = json.open_json(stream, read_options=json.ReadOptions(block_size=block_size))
    else:
        reader = csv.open_csv(
            stream,
            read_options=csv.ReadOptions(block_size=block_size),
            parse_options=csv.ParseOptions(newlines_in_values=True),
        )
    return reader.schema, reader


def pyarrow_preview(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    # Default block size here: a user after 20 rows would not raise it.
    schema, batches = _pyarrow_batches(obj, 1024 * 1024)
    first = next(iter(batches)).slice(0, PREVIEW_ROWS)
    return {"rows": first.num_rows, "columns": _columns_of_arrow(schema)}


def pyarrow_import(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    output = _output(out_dir)
    schema, batches = _pyarrow_batches(obj, PYARROW_BLOCK_SIZE)
    with pq.ParquetWriter(output, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return {"output": str(output)}


# --- polars ------------------------------------------------------------------------------------------


def _polars_scan(obj: S3Object) -> Any:
    import polars as pl

    options = {
        "aws_endpoint_url": obj.endpoint_url,
        "aws_access_key_id": obj.access_key,
        "aws_secret_access_key": obj.secret_key,
        "aws_region": obj.region,
        "aws_allow_http": "true",
    }
    if obj.format == "jsonl":
        return pl.scan_ndjson(obj.url, storage_options=options)
    if obj.format == "parquet":
        return pl.scan_parquet(obj.url, storage_options=options)
    return pl.scan_csv(obj.url, storage_options=options)


def polars_preview(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    frame = _polars_scan(obj).head(PREVIEW_ROWS).collect()
    return {"rows": frame.height, "columns": {name: str(dtype) for name, dtype in frame.schema.items()}}


def polars_import(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    output = _output(out_dir)
    _polars_scan(obj).sink_parquet(output)
    return {"output": str(output)}


# --- pandas + s3fs -----------------------------------------------------------------------------------

PANDAS_CHUNK_ROWS = 100_000


def _s3fs(obj: S3Object, s3fs: Any) -> Any:
    # No s3fs cache under DuckDB: DuckDB buffers itself, and s3fs's default readahead cache (50 MiB
    # blocks) re-fetched the object over and over under DuckDB's scattered parallel reads (1.6 GiB fetched
    # for a 256 MiB CSV, 4.3 GiB for a 356 MiB JSON Lines file, 2-7x slower).
    return s3fs.S3FileSystem(
        key=obj.access_key,
        secret=obj.secret_key,
        endpoint_url=obj.endpoint_url,
        client_kwargs={"region_name": obj.region},
        default_cache_type="none",
    )


def _pandas_options(obj: S3Object) -> dict[str, Any]:
    return {
        "key": obj.access_key,
        "secret": obj.secret_key,
        "client_kwargs": {"endpoint_url": obj.endpoint_url, "region_name": obj.region},
    }


def pandas_preview(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    import pandas as pd

    options = _pandas_options(obj)
    if obj.format == "parquet":
        frame = pd.read_parquet(obj.url, storage_options=options).head(PREVIEW_ROWS)
    elif obj.format == "jsonl":
        frame = pd.read_json(obj.url, lines=True, nrows=PREVIEW_ROWS, storage_options=options)
    else:
        frame = pd.read_csv(obj.url, nrows=PREVIEW_ROWS, storage_options=options)
    return {"rows": len(frame), "columns": {name: str(dtype) for name, dtype in frame.dtypes.items()}}


def pandas_import(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    options = _pandas_options(obj)
    output = _output(out_dir)
    if obj.format == "parquet":
        pd.read_parquet(obj.url, storage_options=options).to_parquet(output, index=False)
        return {"output": str(output)}
    if obj.format == "jsonl":
        chunks = pd.read_json(obj.url, lines=True, chunksize=PANDAS_CHUNK_ROWS, storage_options=options)
    else:
        chunks = pd.read_csv(obj.url, chunksize=PANDAS_CHUNK_ROWS, storage_options=options)
    writer = None
    schema = None
    with chunks:
        for chunk in chunks:
            # The first chunk's schema for every chunk: a chunk whose column happens to be all empty
            # would otherwise come out as another type and the writer would refuse it.
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(output, schema)
            writer.write_table(table)
    if writer is not None:
        writer.close()
    return {"output": str(output)}


PEERS: list[Contender] = [
    Contender("duckdb", "preview", "bench.peers:duckdb_preview", ALL_FORMATS, ("duckdb", "s3fs")),
    Contender("duckdb", "import", "bench.peers:duckdb_import", ALL_FORMATS, ("duckdb", "s3fs")),
    Contender(
        "pyarrow", "preview", "bench.peers:pyarrow_preview", ALL_FORMATS, ("pyarrow.csv", "pyarrow.fs")
    ),
    Contender("pyarrow", "import", "bench.peers:pyarrow_import", ALL_FORMATS, ("pyarrow.csv", "pyarrow.fs")),
    Contender("polars", "preview", "bench.peers:polars_preview", ALL_FORMATS, ("polars",)),
    Contender("polars", "import", "bench.peers:polars_import", ALL_FORMATS, ("polars",)),
    Contender("pandas", "preview", "bench.peers:pandas_preview", ALL_FORMATS, ("pandas", "s3fs")),
    Contender("pandas", "import", "bench.peers:pandas_import", ALL_FORMATS, ("pandas", "s3fs")),
]
TRANSPORT = Contender("transport", "transport", "bench.transport:transport", ALL_FORMATS, ("boto3",))
