"""The whole benchmark with one command: generate the data, start localbucket, run every contender on
every object (median of ``--runs``), write ``bench/results/latest.json`` and print the tables.

    python -m bench.run                              # 16 MiB, 256 MiB (+ gzip, JSON Lines, Parquet), 1 GiB,
                                                     # then the Explore figures (bench.explore)
    python -m bench.run --sizes 16MiB 256MiB         # a partial run
    python -m bench.run --tools polars --formats csv # one peer, plain CSV only

Rounds are interleaved (every contender once, then again), so a noisy minute on a shared machine spreads
over all contenders instead of landing on one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.datawharf_contenders import datawharf_contenders
from bench.generate import DEFAULT_DATA_DIR, DEFAULT_SEED, DERIVED_SIZE, SIZES, DataFile, ensure_data
from bench.measure import Run, run_once, summarize
from bench.objects import Contender
from bench.peers import PEERS, TRANSPORT
from bench.report import RESULTS_PATH, print_tables, ratios
from bench.server import BenchServer

FORMATS = ("csv", "csvgz", "jsonl", "parquet")
PACKAGES = ("duckdb", "pyarrow", "polars", "pandas", "s3fs", "boto3", "localbucket", "numpy")


def all_contenders() -> list[Contender]:
    """Transport ceiling, peers, then datawharf's own (the hook: empty until its pipeline exists)."""
    return [TRANSPORT, *PEERS, *datawharf_contenders()]


def _versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def select_objects(files: dict[str, DataFile], sizes: list[str], formats: tuple[str, ...]) -> list[DataFile]:
    """The objects to bench, smallest plain CSV first."""
    names = [f"csv-{size}" for size in sizes if "csv" in formats]
    if DERIVED_SIZE in sizes:
        names += [f"{fmt}-{DERIVED_SIZE}" for fmt in ("csvgz", "jsonl", "parquet") if fmt in formats]
    return [files[name] for name in names]


def _describe(contender: Contender, run: Run) -> str:
    if run.error:
        return f"{contender.tool:9} error: {run.error}"
    fetched = (run.bytes_fetched or 0) / 2**20
    return f"{contender.tool:9} {run.wall_s:.3f} s, {run.peak_rss_mb:.0f} MB, {fetched:.2f} MiB fetched"


def run_benchmark(
    data_dir: Path,
    objects: list[DataFile],
    contenders: list[Contender],
    runs: int,
    log: Any = print,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    """Every contender on every object it handles, ``runs`` interleaved rounds; the results document."""
    work_dir = data_dir / "_runs"  # not a bucket: bucket names have no underscore
    measured: dict[tuple[str, str, str], list[Run]] = {}
    with BenchServer(data_dir) as server:
        log(f"localbucket on {server.endpoint_url}; warming the page cache and ETags")
        server.warm(objects)
        s3_objects = {data_file.name: server.object(data_file) for data_file in objects}
        for round_number in range(1, runs + 1):
            for data_file in objects:
                obj = s3_objects[data_file.name]
                for contender in contenders:
                    if obj.format not in contender.formats:
                        continue
                    profile = None
                    if profile_dir is not None and round_number == 1:
                        profile = profile_dir / f"{data_file.name}-{contender.tool}-{contender.task}.svg"
                    run = run_once(contender, obj, server, work_dir, profile_to=profile)
                    measured.setdefault((data_file.name, contender.task, contender.tool), []).append(run)
                    progress = f"[{round_number}/{runs}] {data_file.name:16} {contender.task:9}"
                    log(f"{progress} {_describe(contender, run)}")
    shutil.rmtree(work_dir, ignore_errors=True)
    results: dict[str, dict[str, Any]] = {}
    for (name, task, tool), task_runs in measured.items():
        summary = summarize(task_runs, s3_objects[name])
        summary["all_runs_s"] = [r.wall_s for r in task_runs]
        per_object = results.setdefault(name, {})
        if task == "transport":
            per_object["transport"] = summary
        else:
            per_object.setdefault(task, {})[tool] = summary
    return {
        "objects": {
            f.name: {
                "key": f.key,
                "format": f.format,
                "bytes": f.bytes,
                "content_bytes": f.content_bytes,
                "rows": f.rows,
            }
            for f in objects
        },
        "results": results,
        "ratios": {name: ratios(per_object) for name, per_object in results.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="outside the repository")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument(
        "--tools", nargs="+", help="only these tools (transport, duckdb, pyarrow, polars, ...)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender; the median is kept")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--explore",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="then run bench.explore (10 million rows); default: on a full run only",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy flame graphs of each contender's first run, into DIR",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    console = Console(width=None if sys.stdout.isatty() else 200)
    started = time.perf_counter()
    load_before = os.getloadavg()
    files = ensure_data(args.data_dir, args.seed, {size: SIZES[size] for size in args.sizes}, log=True)
    objects = select_objects(files, args.sizes, tuple(args.formats))
    contenders = [c for c in all_contenders() if not args.tools or c.tool in args.tools]
    document = run_benchmark(args.data_dir, objects, contenders, args.runs, console.print, args.profile)
    document = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "partial": sorted(args.sizes) != sorted(SIZES) or sorted(args.formats) != sorted(FORMATS),
        "seed": args.seed,
        "runs": args.runs,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": _versions(),
        "duration_s": round(time.perf_counter() - started, 1),
        **document,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print_tables(document, console)
    console.print(f"results: {args.results} ({document['duration_s']} s)")
    if args.explore if args.explore is not None else not document["partial"]:
        # Its own process: its 10 million rows and DuckDB's caches stay out of the figures above.
        explore = [sys.executable, "-m", "bench.explore", "--data-dir", str(args.data_dir / "explore")]
        subprocess.run(explore, check=True, cwd=Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    main()
