"""The Explore API under concurrent load, beside DuckDB running the same queries (issue 16, item 3).

    python -m bench.explore_load                          # 3.7 M rows, 20 then 100 clients, 20 s each
    python -m bench.explore_load --rows 200000 --clients 4 --seconds 3   # a quick look

A dataset of ``--rows`` rows (``bench.explore``'s generator: city, category, amount, day, updated,
location) is published through the Automation API of a real ``datawharf serve`` (from a Parquet object
on the bench's localbucket server), then ``--clients`` asyncio clients (httpx, one connection each) send
the mix below, drawn from a seeded generator, as fast as the answers come, for ``--seconds``. Then the
same sequence of queries runs straight on DuckDB, on the version's Parquet files, by as many threads
(one cursor each, ``SET threads`` to the query engine's own count), as datawharf's ODSQL compiler
renders them (the records query and its ``total_count``, as ``explore.records`` runs them; the
export's query fetched whole). So the difference is all of datawharf's own: HTTP, the key check, the
catalog lookup, the pool, the serializer, and what it saves (``explore.cache``).

The mix (what a portal's pages and widgets send): pages of 20 at offsets up to 10,000 (the first
pages often, deeper ones rarely: an exponential draw), a filter on one
city, a full-text search, ``order_by`` with a filter, a ``refine`` facet, ``group_by`` counts, aggregates
over a filter, and a CSV export of up to 1,000 matching records. Each kind draws its value (city,
offset, threshold...) from a small set, as visitors of one portal do: repeats happen, not always.

Reported for each side and each client count: requests per second, p50, p99 and errors (any answer
other than 200, or an exception). Results: ``bench/results/explore_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.explore import CATEGORIES, CITIES
from bench.explore import generate as generate_parquet
from bench.generate import BUCKET, DEFAULT_DATA_DIR
from bench.objects import S3Object
from bench.server import BenchServer
from bench.user_paths import API, api_connection, api_run, running_server
from datawharf.datasets.catalog import PublishedDataset, PublishedField
from datawharf.explore.records import compile_for
from datawharf.odsql import QueryRequest

RESULTS = Path(__file__).parent / "results" / "explore_load.json"
EXPLORE = "/api/explore/v2.1/catalog/datasets"


def mix(count: int, seed: int = 16) -> list[tuple[str, QueryRequest]]:
    """``count`` (kind, request) pairs: the portal's mix, values drawn from small sets."""
    rng = random.Random(seed)
    cities = list(CITIES[:10])

    def deep() -> int:
        """Which page a visitor opens: the first ones mostly, rarely far (up to the 500th)."""
        return min(int(rng.expovariate(0.3)), 499)

    kinds = [
        ("page", lambda: QueryRequest(limit=20, offset=20 * deep())),
        ("filter", lambda: QueryRequest(where=f"city = '{rng.choice(cities)}'", limit=10)),
        ("search", lambda: QueryRequest(where=f'"{rng.choice(cities)}"', limit=10)),
        (
            "order_by",
            lambda: QueryRequest(
                where=f"category = '{rng.choice(list(CATEGORIES))}'", order_by="amount desc", limit=10
            ),
        ),
        (
            "refine",
            lambda: QueryRequest(
                refine=[f"category:{rng.choice(list(CATEGORIES))}"],
                limit=10,
                offset=10 * deep(),
            ),
        ),
        (
            "group_by",
            lambda: QueryRequest(select="city, count(*) as n", group_by="city", order_by="n desc", limit=20),
        ),
        (
            "aggregate",
            lambda: QueryRequest(
                select="avg(amount) as mean, max(amount) as top, count(*) as n",
                where=f"amount > {rng.choice([100, 500, 1000, 2000])}",
            ),
        ),
        (
            "export",
            lambda: QueryRequest(where=f"city = '{rng.choice(cities)}' and amount > 1500", limit=1000),
        ),
    ]
    drawn = []
    for _ in range(count):
        kind, make = rng.choice(kinds)
        drawn.append((kind, make()))
    return drawn


def http_params(request: QueryRequest) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for name in ("select", "group_by", "order_by"):
        if getattr(request, name):
            params.append((name, getattr(request, name)))
    where = request.where
    for clause in [where] if isinstance(where, str) else where or []:
        params.append(("where", clause))
    params += [("refine", value) for value in request.refine]
    if request.limit is not None:
        params.append(("limit", str(request.limit)))
    if request.offset:
        params.append(("offset", str(request.offset)))
    return params


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": cut[98] * 1000}


def _figures(timed: list[tuple[str, float]], errors: list[str], elapsed: float) -> dict[str, Any]:
    """``timed``: (kind, seconds) of every answered request."""
    latencies = [seconds for _kind, seconds in timed]
    kinds = sorted({kind for kind, _seconds in timed})
    return {
        "requests": len(latencies),
        "throughput_rps": len(latencies) / elapsed,
        **_percentiles(latencies),
        "p50_ms_by_kind": {k: statistics.median(s for kind, s in timed if kind == k) * 1000 for k in kinds},
        "errors": len(errors),
        "error_samples": errors[:5],
        "elapsed_s": elapsed,
    }


async def _http_load(base: str, dataset_id: str, queries: list[Any], clients: int, seconds: float) -> dict:
    import httpx

    cursor = iter(range(len(queries)))
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=120, limits=httpx.Limits(max_connections=1)
        ) as http:
            while time.perf_counter() < deadline:
                index = next(cursor, None)
                if index is None:
                    return
                kind, request = queries[index]
                path = f"{EXPLORE}/{dataset_id}/" + ("exports/csv" if kind == "export" else "records")
                started = time.perf_counter()
                try:
                    response = await http.get(path, params=http_params(request))
                    await response.aread()
                    if response.status_code != 200:
                        errors.append(f"{kind} {response.status_code} {response.text[:200]}")
                        continue
                except httpx.HTTPError as exc:
                    errors.append(f"{kind} {type(exc).__name__}: {exc}")
                    continue
                latencies.append((kind, time.perf_counter() - started))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return _figures(latencies, errors, time.perf_counter() - started)


def duckdb_load(
    dataset: PublishedDataset, queries: list[Any], clients: int, seconds: float, threads: int
) -> dict:
    """The same queries, compiled as datawharf compiles them, on DuckDB threads with a cursor each."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    unique: dict[str, Any] = {}  # the mix repeats itself: each distinct query compiled once
    for kind, request in queries:
        if repr(request) not in unique:
            unique[repr(request)] = compile_for(
                dataset, request, "exports" if kind == "export" else "records"
            )
    compiled = [(kind, unique[repr(request)]) for kind, request in queries]
    lock = threading.Lock()
    cursor = iter(range(len(compiled)))
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        con = connection.cursor()
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                kind, query = compiled[index]
                started = time.perf_counter()
                try:
                    if kind != "export":
                        total = con.execute(query.count_sql, query.count_params).fetchone()[0]
                        if query.limit != 0 and query.offset < (total or 0):
                            con.execute(query.sql, query.params).fetchall()
                    else:
                        con.execute(query.sql, query.params).fetchall()
                except duckdb.Error as exc:
                    with lock:
                        errors.append(f"{kind} {exc}")
                    continue
                with lock:
                    latencies.append((kind, time.perf_counter() - started))
        finally:
            con.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    figures = _figures(latencies, errors, time.perf_counter() - started)
    connection.close()
    return figures


def parquet_object(data_dir: Path, rows: int) -> tuple[str, Path]:
    """The bench's Parquet object of ``rows`` rows in the localbucket folder, generated once.

    ``location`` is written as ``"lat,lon"`` text, as open data has it (datawharf types it as a
    ``geo_point_2d``). A ``struct<lon, lat>`` column publishes too since issue 16's fix (it used to end
    in ``internal_error``); the text form is kept so that figures stay comparable across sessions."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    key = f"explore-{rows}.parquet"
    path = data_dir / BUCKET / key
    if not path.exists():
        raw = path.with_name(f"_{key}")
        generate_parquet(raw, rows)
        table = pq.read_table(raw)
        location = table.column("location").combine_chunks()
        text = pc.binary_join_element_wise(
            pc.cast(location.field("lat"), "string"), pc.cast(location.field("lon"), "string"), ","
        )
        index = table.schema.get_field_index("location")
        pq.write_table(
            table.set_column(index, "location", text), path, compression="zstd", row_group_size=256 * 1024
        )
        raw.unlink()
    return key, path


def run(
    data_dir: Path,
    rows: int,
    client_counts: list[int],
    seconds: float,
    log: Any = print,
    settings: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``settings``: ``DATAWHARF_*`` variables for the server (``--no-cache``)."""
    work = data_dir / "_explore_load"  # not a bucket: bucket names have no underscore
    shutil.rmtree(work, ignore_errors=True)
    key, path = parquet_object(data_dir, rows)
    threads = max(1, min(os.cpu_count() or 1, 8))  # the query engine's DuckDB threads
    document: dict[str, Any] = {"rows": rows, "duckdb_threads": threads, "clients": {}}
    with BenchServer(data_dir) as server:
        obj = S3Object(
            server.endpoint_url, BUCKET, key, path.stat().st_size, rows, "parquet", path.stat().st_size
        )
        # Every load client comes from 127.0.0.1, as clients behind a proxy do: the per-address export
        # cap (issue 12) is raised to the client count, as docs/settings.md says to behind a proxy.
        served = {"DATAWHARF_EXPORT_PER_CLIENT": str(max(client_counts)), **(settings or {})}
        with running_server(work / "serve-home", obj, served) as http:
            connection = api_connection(http, obj)
            published = api_run(http, obj, connection)
            log(f"published {rows:,} rows in {published['wall_s']:.1f} s")
            datasets = http.get(f"{API}/datasets/").json()["results"]
            uid = datasets[0]["uid"]
            dataset_id = datasets[0]["dataset_id"]
            info = http.get(f"{EXPLORE}/{dataset_id}").json()
            files = sorted((work / "serve-home" / "warehouse" / uid).rglob("*.parquet"))
            dataset = PublishedDataset(
                uid=uid,
                dataset_id=dataset_id,
                metadata={},
                fields=tuple(
                    PublishedField(f["name"], f["label"], f["type"], None, ()) for f in info["fields"]
                ),
                files=tuple(str(f) for f in files),
                is_restricted=False,
                modified=None,
                version_uid="ve_bench",
                records_count=rows,
            )
            base = str(http.base_url).rstrip("/")
            for clients in client_counts:
                queries = mix(20_000 * max(1, clients // 20), seed=clients)
                warm = mix(50, seed=1)
                asyncio.run(_http_load(base, dataset_id, warm, min(clients, 4), 60))
                served = asyncio.run(_http_load(base, dataset_id, queries, clients, seconds))
                direct = duckdb_load(dataset, queries, clients, seconds, threads)
                document["clients"][clients] = {"datawharf": served, "duckdb": direct}
                log(f"{clients} clients: datawharf {_line(served)}; duckdb {_line(direct)}")
    shutil.rmtree(work, ignore_errors=True)
    return document


def _line(f: dict[str, Any]) -> str:
    rate, p50, p99 = f["throughput_rps"], f["p50_ms"], f["p99_ms"]
    return f"{rate:.1f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, {f['errors']} errors"


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "| clients | side | req/s | p50 | p99 | p99 / p50 | errors |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for clients, sides in document["clients"].items():
        for side in ("datawharf", "duckdb"):
            f = sides[side]
            rate, p50, p99 = f["throughput_rps"], f["p50_ms"], f["p99_ms"]
            spread = p99 / p50
            lines.append(
                f"| {clients} | {side} | {rate:.1f} | {p50:.0f} ms | {p99:.0f} ms | {spread:.1f} "
                f"| {f['errors']} |"
            )
        ratio = sides["datawharf"]["throughput_rps"] / sides["duckdb"]["throughput_rps"]
        lines.append(f"| {clients} | **datawharf / duckdb** | **{ratio:.2f}** | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rows", type=int, default=3_700_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="--no-cache: DATAWHARF_EXPLORE_CACHE_MB=0",
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    settings = {} if args.cache else {"DATAWHARF_EXPLORE_CACHE_MB": "0"}
    document = run(args.data_dir, args.rows, args.clients, args.seconds, settings=settings)
    document["response_cache"] = args.cache
    document = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.explore_load " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **document,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(document))


if __name__ == "__main__":
    main()
