"""Publish throughput from 1 to 2 cores, and a model for 16 (issue 16, item 4).

    python -m bench.scaling                        # the 256 MiB CSV, 3 runs on each core set
    python -m bench.scaling --size 16MiB --runs 1  # a quick look

datawharf's publish contender (``bench.datawharf_contenders.datawharf_publish``: create + publish, the
core calls the CLI makes) runs in its own process under ``taskset -c 0``, then ``taskset -c 0,1``, with
no thread count configured: ``parse_threads``, ``convert_threads`` and ``job_workers`` default to the
cores the process may use (its affinity), so the same code runs 1 parse thread on one core and 2 on two.
Rounds interleave the core sets. The figure is the contender's own timed seconds (the guess to the saved
version) and its MiB/s.

The model for 16 cores is Amdahl's law fitted to the two points: the speedup S2 from one to two cores
gives a serial fraction s = 2 / S2 - 1, and S(n) = 1 / (s + (1 - s) / n). The pipeline has stages that
stay on one thread however many cores there are (the block cutter, the Parquet writer: ``bench/README.md``,
per-thread CPU seconds), so the fitted s is a floor and the 16-core figure a ceiling.
Results: ``bench/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.child import ABSENT_PREFIX
from bench.datawharf_contenders import ABSENT, PRELOAD
from bench.generate import DEFAULT_DATA_DIR, DEFAULT_SEED, SIZES, ensure_data
from bench.server import BenchServer

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "scaling.json"
CORE_SETS = {1: "0", 2: "0,1"}
CONTENDER = "bench.datawharf_contenders:datawharf_publish"


def publish_once(obj_json: str, out: Path, cpus: str) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    command = ["taskset", "-c", cpus, sys.executable, "-m", "bench.child", CONTENDER, obj_json, str(out)]
    command += [*PRELOAD, *(f"{ABSENT_PREFIX}{package}" for package in ABSENT)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    report = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    if done.returncode != 0 or "error" in report:
        raise RuntimeError(f"publish on cores {cpus}: {report.get('error')} {done.stderr[-1500:]}")
    return report


def amdahl(speedup_2: float, cores: int) -> float:
    serial = min(1.0, max(0.0, 2 / speedup_2 - 1))
    return 1 / (serial + (1 - serial) / cores)


def run(
    data_dir: Path, size: str, runs: int, log: Any = print, size_bytes: int | None = None
) -> dict[str, Any]:
    """``size`` names a ``SIZES`` entry, or any size when ``size_bytes`` is given (the smoke test's)."""
    files = ensure_data(data_dir, DEFAULT_SEED, {size: size_bytes or SIZES[size]}, derived=None)
    data_file = files[f"csv-{size}"]
    work = data_dir / "_scaling"  # not a bucket: bucket names have no underscore
    figures: dict[int, list[float]] = {cores: [] for cores in CORE_SETS}
    with BenchServer(data_dir) as server:
        server.warm([data_file])
        obj = server.object(data_file)
        for round_number in range(runs):
            for cores, cpus in CORE_SETS.items():
                report = publish_once(obj.to_json(), work / f"{cores}-{round_number}", cpus)
                figures[cores].append(report["result"]["timed_s"])
                log(f"[{round_number + 1}/{runs}] {cores} core(s): {report['result']['timed_s']:.2f} s")
    mib = data_file.bytes / 2**20
    document: dict[str, Any] = {"object": data_file.name, "mib": mib, "cores": {}}
    for cores, seconds in figures.items():
        median = statistics.median(seconds)
        document["cores"][cores] = {"timed_s": median, "mib_s": mib / median, "all_s": seconds}
    speedup = document["cores"][1]["timed_s"] / document["cores"][2]["timed_s"]
    document["speedup_1_to_2"] = speedup
    document["serial_fraction"] = min(1.0, max(0.0, 2 / speedup - 1))
    document["model_16_cores"] = {
        "speedup": amdahl(speedup, 16),
        "mib_s": document["cores"][1]["mib_s"] * amdahl(speedup, 16),
    }
    return document


def markdown(document: dict[str, Any]) -> str:
    cores = {int(count): figures for count, figures in document["cores"].items()}  # text keys from JSON
    one, two = cores[1], cores[2]
    model = document["model_16_cores"]
    return "\n".join(
        [
            f"| {document['object']} publish | 1 core | 2 cores | speedup | serial fraction "
            "| 16 cores (model) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| seconds · MiB/s | {one['timed_s']:.2f} s · {one['mib_s']:.0f} | {two['timed_s']:.2f} s · "
            f"{two['mib_s']:.0f} | {document['speedup_1_to_2']:.2f}x | {document['serial_fraction']:.2f} "
            f"| ≤ {model['speedup']:.1f}x · ≤ {model['mib_s']:.0f} MiB/s |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--size", choices=list(SIZES), default="256MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    document = run(args.data_dir, args.size, args.runs)
    document = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.scaling " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **document,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(document))


if __name__ == "__main__":
    main()
