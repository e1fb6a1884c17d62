"""Where a CSV import's CPU goes, stage by stage, and how it compares with the peers' whole run.

    python -m bench.import_profile                     # the generated 256 MiB file (bench/generate.py)
    python -m bench.import_profile --file other.csv

Each stage of datawharf's publish pipeline runs alone on one thread over the same local file (no server,
no database), timed in CPU seconds, so the figures hold on a busy machine where wall times do not:
cutting blocks (quote-aware), parsing them (pyarrow ``read_csv``), converting the types, writing Parquet.
Then the whole pipeline (``ParallelCsvRead`` + ``ordered_map`` + ``ParquetWriter``, as a publish runs it)
and the peers' one-liners on the same file, for CPU seconds and wall time side by side. A stage that costs
more CPU than a peer's whole run is the proof of why a throughput target is out of reach on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.generate import DEFAULT_DATA_DIR

MiB = 1024 * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(function: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of one call."""
    cpu, wall = _cpu(), time.perf_counter()
    result = function()
    return _cpu() - cpu, time.perf_counter() - wall, result


def profile(path: Path, out_dir: Path) -> list[tuple[str, float, float]]:
    from datawharf.datasets.fastpath import (
        convert_batch,
        dictionary_columns,
        ordered_map,
        tune_memory_pool,
    )
    from datawharf.datasets.fieldconfig import FieldSpec
    from datawharf.extract.base import ReadOptions
    from datawharf.extract.csv_parallel import ParallelCsvRead, safe_cut
    from datawharf.extract.types import ARROW_TYPES, guess_type

    tune_memory_pool()
    data = path.read_bytes()
    rows: list[tuple[str, float, float]] = []

    def cut_all() -> int:
        blocks, start = 0, 0
        while start < len(data):
            window = data[start : start + 4 * MiB]
            cut = safe_cut(window, ord(","), final=start + len(window) >= len(data))
            start += cut if cut and cut > 0 else len(window)
            blocks += 1
        return blocks

    cpu, wall, _ = _measure(cut_all)
    rows.append(("cut into blocks (safe_cut, numpy)", cpu, wall))

    def parse_all() -> list[pa.RecordBatch]:
        read = ParallelCsvRead(open(path, "rb"), {"separator": ","}, ReadOptions(), workers=1)  # noqa: SIM115
        return list(read.batches())

    cpu, wall, batches = _measure(parse_all)
    rows.append(("cut + parse (read_csv, 1 thread)", cpu, wall))
    first = batches[0]
    fields = [
        FieldSpec(name=n, label=n, type=guess_type(first.column(i)), source=n, original_name=n)
        for i, n in enumerate(first.schema.names)
    ]
    schema = pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in fields])
    position = {n: i for i, n in enumerate(first.schema.names)}
    convert = functools.partial(convert_batch, position=position, fields=fields, schema=schema)
    cpu, wall, converted = _measure(lambda: [convert(b).batch for b in batches])
    rows.append(("convert types (all fields)", cpu, wall))
    for spec in fields:
        one = functools.partial(
            convert_batch, position=position, fields=[spec], schema=pa.schema([schema.field(spec.name)])
        )
        cpu, wall, _ = _measure(lambda one=one: [one(b) for b in batches])
        rows.append((f"  {spec.name} ({spec.type})", cpu, wall))
    dictionary = dictionary_columns(first, first.schema.names, fields)

    def write_all() -> None:
        writer = pq.ParquetWriter(
            out_dir / "stage.parquet", schema, compression="zstd", use_dictionary=dictionary
        )
        for start in range(0, len(converted), 8):
            table = pa.Table.from_batches(converted[start : start + 8], schema)
            writer.write_table(table, row_group_size=table.num_rows)
        writer.close()

    cpu, wall, _ = _measure(write_all)
    rows.append(("write Parquet (zstd)", cpu, wall))
    batches.clear()  # the whole run below measures its own memory-bounded pipeline
    converted.clear()

    def pipeline() -> None:
        reader = ParallelCsvRead(open(path, "rb"), {"separator": ","}, ReadOptions())  # noqa: SIM115
        writer = pq.ParquetWriter(
            out_dir / "pipeline.parquet", schema, compression="zstd", use_dictionary=dictionary
        )
        pending: list[pa.RecordBatch] = []
        size = 0
        for item in ordered_map(lambda b: convert(b).batch, itertools.chain(reader.batches())):
            pending.append(item)
            size += item.nbytes
            if size >= 16 * MiB:
                writer.write_table(pa.Table.from_batches(pending, schema))
                pending, size = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema))
        writer.close()

    cpu, wall, _ = _measure(pipeline)
    rows.append(("datawharf pipeline, both cores (local file)", cpu, wall))

    def polars_run() -> None:
        import polars as pl

        pl.scan_csv(path).sink_parquet(out_dir / "polars.parquet")

    def duckdb_run() -> None:
        import duckdb

        duckdb.sql(f"COPY (SELECT * FROM read_csv('{path}')) TO '{out_dir / 'duckdb.parquet'}'")

    for name, run in (("polars scan_csv + sink_parquet", polars_run), ("duckdb COPY", duckdb_run)):
        cpu, wall, _ = _measure(run)
        rows.append((name, cpu, wall))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_DATA_DIR / "bench" / "facilities-256MiB.csv")
    args = parser.parse_args(argv)
    size = args.file.stat().st_size / MiB
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        rows = profile(args.file, Path(out))
    print(f"{args.file.name}: {size:.0f} MiB, load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'stage':46} {'CPU s':>7} {'wall s':>7} {'MiB/CPU s':>10}")
    for name, cpu, wall in rows:
        print(f"{name:46} {cpu:7.2f} {wall:7.2f} {size / max(cpu, 1e-9):10.0f}")


if __name__ == "__main__":
    main()
