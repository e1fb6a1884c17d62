"""Run one contender on one object in its own process and measure it.

A contender is a plain function ``(obj: S3Object, out_dir: Path) -> dict`` named by an import path
(``"bench.peers:polars_import"``), so the child process imports only what that contender needs and its
peak RSS (its ``ru_maxrss``, reported by ``bench.child``) is its own, not the harness's nor another
contender's. The
clock runs inside the child around the call only: importing polars or pyarrow is not the contender's cost
(a service has them loaded). Bytes fetched are counted by the server (``bench.lbserve``) before and after.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.child import ABSENT_PREFIX
from bench.objects import Contender, S3Object
from bench.server import BenchServer

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

#: The columns the "types right" check looks at, and the Arrow type family each should be.
TYPE_CHECKS = {"code_postal": "string", "date_ouverture": "date", "derniere_maj": "timestamp"}


@dataclass
class Run:
    """One measured run. ``error`` is set (and the figures are not) when the contender failed."""

    wall_s: float | None = None
    peak_rss_mb: float | None = None
    bytes_fetched: int | None = None
    requests: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _type_family(type_text: str) -> str:
    for family in ("string", "large_string", "date", "timestamp", "int", "double", "float", "bool", "null"):
        if type_text.startswith(family):
            return "string" if family == "large_string" else family
    return type_text


def parquet_facts(path: Path) -> dict[str, Any]:
    """Row count and the checked columns' types of an output Parquet file (a file or a folder of parts)."""
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    schema = pq.read_schema(files[0])
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    types = {name: str(schema.field(name).type) for name in TYPE_CHECKS if name in schema.names}
    right = {name: _type_family(types.get(name, "missing")) == family for name, family in TYPE_CHECKS.items()}
    return {"rows": rows, "types": types, "types_right": right}


def run_once(
    contender: Contender,
    obj: S3Object,
    server: BenchServer,
    work_dir: Path,
    timeout: float = 1800,
    profile_to: Path | None = None,
) -> Run:
    """Run the contender once in a fresh process; its output is checked, then deleted.

    With ``profile_to`` (an .svg path), py-spy samples the process (native frames included) into a flame
    graph: the proof the issue asks for when a target is out of reach. Sampling slows the run a little.
    """
    out_dir = work_dir / f"{contender.tool}-{contender.task}"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    command = [sys.executable, "-m", "bench.child", contender.function, obj.to_json(), str(out_dir)]
    command += contender.preload
    command += [f"{ABSENT_PREFIX}{package}" for package in contender.absent]
    if profile_to is not None:
        profile_to.parent.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).with_name("py-spy")
        command = [
            str(py_spy),
            "record",
            "--native",
            "--rate",
            "200",
            "--output",
            str(profile_to),
            "--",
            *command,
        ]
    before = server.stats()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        shutil.rmtree(out_dir, ignore_errors=True)
        return Run(error=f"timed out after {timeout:.0f} s")
    after = server.stats()
    # The child's JSON is its last line starting with "{" (py-spy, when profiling, prints after it).
    reports = [line for line in stdout.splitlines() if line.startswith("{")]
    try:
        payload = json.loads(reports[-1])
    except (IndexError, json.JSONDecodeError):
        payload = {"error": (stderr.strip().splitlines() or ["no output"])[-1]}
    run = Run(
        bytes_fetched=after["bytes_sent"] - before["bytes_sent"],
        requests=after["requests"] - before["requests"],
    )
    if process.returncode != 0 or "error" in payload:
        run.error = payload.get("error") or f"exit code {process.returncode}"
    else:
        # A contender may time itself (``timed_s``) when its function also does setup no user repeats.
        run.wall_s = payload["result"].pop("timed_s", payload["wall_s"])
        run.peak_rss_mb = payload["peak_rss_kib"] / 1024
        run.result = payload["result"]
        output = run.result.pop("output", None)
        if output:
            run.result |= parquet_facts(Path(output))
    shutil.rmtree(out_dir, ignore_errors=True)
    return run


def summarize(runs: list[Run], obj: S3Object) -> dict[str, Any]:
    """Median of each figure over the successful runs, and throughput over the source object's size."""
    good = [r for r in runs if r.error is None]
    if not good:
        return {"error": runs[-1].error if runs else "not run", "runs": len(runs)}

    def median(name: str) -> float:
        return statistics.median(getattr(r, name) for r in good)

    wall = median("wall_s")
    summary: dict[str, Any] = {
        "runs": len(good),
        "failed_runs": len(runs) - len(good),
        "wall_s": wall,
        "best_wall_s": min(r.wall_s for r in good),  # type: ignore[type-var]
        "mib_s": obj.size / MiB / wall if wall > 0 else None,
        "content_mib_s": obj.content_size / MiB / wall if wall > 0 else None,
        "peak_rss_mb": median("peak_rss_mb"),
        "bytes_fetched": int(median("bytes_fetched")),
        "mib_fetched": median("bytes_fetched") / MiB,
        "requests": int(median("requests")),
    }
    last = good[-1].result
    for key in ("rows", "types", "types_right", "columns"):
        if key in last:
            summary[key] = last[key]
    if "types" in last:  # an import: it must have kept every row
        summary["rows_expected"] = obj.rows
        summary["rows_ok"] = last.get("rows") == obj.rows
    return summary
