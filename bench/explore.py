"""Explore API speed on 10 million rows: a filtered count, a group-by, pages of 100 records.

    python -m bench.explore                      # 10,000,000 rows, 5 warm runs a query
    python -m bench.explore --rows 1000000 --runs 3
    python -m bench.explore --no-exports         # without the two full exports (csv, parquet)

The data is a version as the publish pipeline writes it (one zstd Parquet file, the warehouse's types:
int64, string, float64, date32, timestamp[us, UTC], struct<lon, lat>), generated with pyarrow into a
warehouse folder under ``--data-dir``. Each query goes through the real path below HTTP: the ODSQL
compiler, the query engine's DuckDB connection pool, and the records serializer
(``explore.records.query_records``). The first run of each query is reported apart (cold: Parquet
metadata not yet cached); then the median and the best of ``--runs``. Then two full exports (csv and
parquet of every row, streamed and discarded) with their throughput and the process's peak RSS growth.
Results go to ``bench/results/explore.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.child import status_kib
from datawharf.datasets.catalog import PublishedDataset, PublishedField
from datawharf.explore.records import query_records
from datawharf.exports import open_export
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine

RESULTS = Path(__file__).parent / "results" / "explore.json"
SEED = 20240806
CITIES = np.array(
    ["Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier", "Bordeaux",
     "Lille", "Rennes", "Reims", "Toulon", "Grenoble", "Dijon", "Angers", "Nimes", "Brest", "Tours", "Metz"]
)  # fmt: skip
CATEGORIES = np.array(["a", "b", "c", "d", "e"])
FIELDS = {
    "id": "int",
    "city": "text",
    "category": "text",
    "amount": "double",
    "day": "date",
    "updated": "datetime",
    "location": "geo_point_2d",
}
CHUNK = 1_000_000
ROW_GROUP = 256 * 1024

QUERIES: dict[str, QueryRequest] = {
    "filtered count": QueryRequest(where="amount > 500 and city = 'Paris'", limit=0),
    "group-by (20 groups)": QueryRequest(
        select="city, count(*) as n, avg(amount) as mean", group_by="city", order_by="n desc", limit=100
    ),
    "group-by year(day), category": QueryRequest(
        select="year(day) as y, category, sum(amount) as total",
        group_by="year(day) as y, category",
        order_by="y, category",
        limit=100,
    ),
    "page of 100 records": QueryRequest(where="category = 'b'", limit=100, offset=9900),
    "page of 100, order_by amount desc": QueryRequest(order_by="amount desc", limit=100),
    "page of 100, within_distance 10km": QueryRequest(
        where="within_distance(location, geom'POINT(2.35 48.85)', 10km)", limit=100
    ),
}


def generate(path: Path, rows: int) -> None:
    rng = np.random.default_rng(SEED)
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("city", pa.string()),
            ("category", pa.string()),
            ("amount", pa.float64()),
            ("day", pa.date32()),
            ("updated", pa.timestamp("us", tz="UTC")),
            ("location", pa.struct([("lon", pa.float64()), ("lat", pa.float64())])),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    start_us = int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
    with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True) as writer:
        for first in range(0, rows, CHUNK):
            n = min(CHUNK, rows - first)
            updated = start_us + rng.integers(0, 5 * 365 * 86_400, n) * 1_000_000
            location = pa.StructArray.from_arrays(
                [pa.array(rng.uniform(-5.0, 8.0, n)), pa.array(rng.uniform(42.0, 51.0, n))],
                names=["lon", "lat"],
            )
            table = pa.table(
                [
                    pa.array(np.arange(first, first + n, dtype=np.int64)),
                    pa.array(CITIES[rng.integers(0, len(CITIES), n)]),
                    pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), n)]),
                    pa.array(np.round(rng.exponential(300.0, n), 2)),
                    pa.array((updated // 86_400_000_000).astype(np.int32), pa.date32()),
                    pa.array(updated, pa.timestamp("us", tz="UTC")),
                    location,
                ],
                schema=schema,
            )
            writer.write_table(table, row_group_size=ROW_GROUP)


def dataset(files: list[Path], rows: int) -> PublishedDataset:
    return PublishedDataset(
        uid="da_bench",
        dataset_id="bench",
        metadata={"default": {"title": {"value": "Bench"}}},
        fields=tuple(PublishedField(name, name, ftype, None, ()) for name, ftype in FIELDS.items()),
        files=tuple(str(f) for f in files),
        is_restricted=False,
        modified=None,
        version_uid="ve_bench",
        records_count=rows,
    )


def measure(engine: QueryEngine, data: PublishedDataset, request: QueryRequest, runs: int) -> dict[str, Any]:
    times = []
    total = returned = 0
    for _ in range(runs + 1):
        start = time.perf_counter()
        page = query_records(engine, data, request)
        times.append((time.perf_counter() - start) * 1000)
        total, returned = page.total_count, len(page.results)
    warm = times[1:]
    return {
        "cold_ms": round(times[0], 1),
        "median_ms": round(statistics.median(warm), 1),
        "best_ms": round(min(warm), 1),
        "total_count": total,
        "results": returned,
        "request": {k: v for k, v in vars(request).items() if v not in (None, (), [], 0, "UTC")},
    }


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure_export(
    engine: QueryEngine, data: PublishedDataset, fmt: str, request: QueryRequest
) -> dict[str, Any]:
    """One full export, streamed and thrown away: its time, size, and the process's peak RSS growth.

    The growth is over the RSS before the export, with the high-water mark reset first: the process's
    all-time peak (``ru_maxrss``) is the data generation's when the data was made in this run, which
    hid every export's own growth behind it (``+0``).
    """
    _reset_peak_rss()
    before = status_kib("VmRSS") * 1024
    start = time.perf_counter()
    size = 0
    export = open_export(engine, data, request, fmt)
    for chunk in export.chunks:
        size += len(chunk)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM") * 1024
    return {
        "seconds": round(seconds, 1),
        "bytes": size,
        "mib_per_s": round(size / 2**20 / seconds, 1),
        "rows_per_s": round(data.records_count / seconds) if request.where is None else None,
        "peak_rss_growth_mib": round((peak - before) / 2**20),
        "request": {k: v for k, v in vars(request).items() if v not in (None, (), [], 0, "UTC")},
    }


EXPORTS: dict[str, tuple[str, QueryRequest]] = {
    "export csv, all rows (id, city, category, amount, day)": (
        "csv",
        QueryRequest(select="id, city, category, amount, day"),
    ),
    "export parquet, all rows and fields": ("parquet", QueryRequest()),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-exports", action="store_true", help="skip the two full exports")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/datawharf-bench/explore"))
    args = parser.parse_args()

    part = args.data_dir / "warehouse" / "da_bench" / f"ve_{args.rows}" / "part-00000.parquet"
    if not part.exists():
        started = time.perf_counter()
        generate(part, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s: {part}")
    size = part.stat().st_size
    data = dataset([part], args.rows)
    engine = QueryEngine(pool_size=2)
    load_before = os.getloadavg()
    results = {name: measure(engine, data, request, args.runs) for name, request in QUERIES.items()}
    exports = {} if args.no_exports else {
        name: measure_export(engine, data, fmt, request) for name, (fmt, request) in EXPORTS.items()
    }  # fmt: skip
    engine.close()
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": f"python -m bench.explore --rows {args.rows} --runs {args.runs}",
        "rows": args.rows,
        "parquet_bytes": size,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {p: version(p) for p in ("duckdb", "pyarrow")},
        "queries": results,
        "exports": exports,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.rows:,} rows, {size / 2**20:.0f} MiB of Parquet; ms (cold / median / best of {args.runs})")
    for name, r in results.items():
        figures = f"{r['cold_ms']:>8} {r['median_ms']:>8} {r['best_ms']:>8}"
        print(f"  {name:38} {figures}   total_count={r['total_count']}")
    for name, r in exports.items():
        print(
            f"  {name:54} {r['seconds']:>6} s {r['bytes'] / 2**20:>8.0f} MiB {r['mib_per_s']:>6} MiB/s"
            f"  peak RSS +{r['peak_rss_growth_mib']} MiB"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
