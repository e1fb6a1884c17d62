"""Incremental refresh against a full publish, and many small objects against one file (issue 18).

``python -m bench.incremental [--objects 1000] [--records 50] [--added 10]``. The objects are small gzip
CSVs in nested prefixes (``incr-<run>/<year>/<month>/stations-NNNN.csv.gz``), written into the bench's
localbucket folder (``bench.server``: a folder served as a bucket, so nothing is uploaded), plus one
gzip CSV holding the same records (the same total content, one object). Each figure is one timed
``PublishRun.execute`` on a fresh SQLite home, measured in-process:

- ``full``: the glob published from scratch (every object read, ``DATAWHARF_SET_READ_THREADS`` at once);
- ``incremental``: after ``--added`` objects are written, a publish "only if changed" (only they read);
- ``full_again``: the same state published without "only if changed" (every object read again);
- ``sequential``: the first publish with ``set_read_threads=1`` (what the parallel read saves);
- ``one_file``: the single gzip CSV of the same records.

Ratios go to ``bench/results/incremental.json``. localbucket and the publish share this machine's cores,
so the figures compare datawharf's paths with each other, not with a network. localbucket runs with
TCP_NODELAY (``bench.lbserve``): without it each small object's answer stalls 40 ms on loopback (Nagle
against delayed ACKs), a cost of the stand-in server that S3 does not have and that drowned the
client's own per-object cost; ``--nagle`` measures with it, as the runs before it did.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import results_file
from bench.datawharf_contenders import _create_dataset, _sigv4
from bench.generate import BUCKET, DEFAULT_DATA_DIR
from bench.objects import S3Object
from bench.server import BenchServer

RESULTS = Path(__file__).resolve().parent / "results" / "incremental.json"
SERVER = "localbucket (bench.lbserve{}), on loopback"


def _rows(number: int, records: int) -> list[str]:
    return [f"st{number}-{row},2026-12-{number % 28 + 1:02d},{number * 10 + row}" for row in range(records)]


def _key(prefix: str, number: int) -> str:
    return f"{prefix}/{2020 + number % 7}/{number % 12 + 1:02d}/stations-{number:05d}.csv.gz"


def write_objects(root: Path, prefix: str, numbers: range, records: int) -> int:
    """The small objects, as files of the served folder; their total bytes."""
    total = 0
    for number in numbers:
        path = root / _key(prefix, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = gzip.compress(("\n".join(["station,day,count", *_rows(number, records)]) + "\n").encode())
        path.write_bytes(body)
        total += len(body)
    return total


def write_one_file(root: Path, name: str, count: int, records: int) -> int:
    rows = [row for number in range(count) for row in _rows(number, records)]
    body = gzip.compress(("\n".join(["station,day,count", *rows]) + "\n").encode())
    (root / name).write_bytes(body)
    return len(body)


def _obj(server: BenchServer, key: str) -> S3Object:
    return S3Object(
        endpoint_url=server.endpoint_url, bucket=BUCKET, key=key, size=0, rows=0, format="csv", content_size=0
    )


class Home:
    """One SQLite home, one dataset on ``url`` (relative to the bench connection)."""

    def __init__(self, obj: S3Object, home: Path, url: str, **settings: Any) -> None:
        from datawharf.connections import service as connections
        from datawharf.connections.schemas import ConnectionCreate
        from datawharf.settings import Settings
        from datawharf.store.db import open_database

        self.settings = Settings(home=home, allowed_private_hosts=[obj.host_port], **settings)
        self.database = open_database(self.settings)
        with self.database.session() as session:
            connection = connections.create_connection(
                session, self.settings, ConnectionCreate.model_validate(_sigv4(obj))
            )
            datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": connection.uid}}
        self.dataset_uid = _create_dataset(self.database, self.settings, datasource, title=url)

    def publish(self, *, only_if_changed: bool) -> dict[str, Any]:
        """One timed run; what it read and what the version holds."""
        from datawharf.datasets import control, service
        from datawharf.datasets.locate import stream_locator
        from datawharf.datasets.publish import PublishRun
        from datawharf.store.models.datasets import DatasetVersion

        with self.database.session() as session:
            run_uid = control.request_publish(
                session, self.dataset_uid, only_if_changed=only_if_changed
            ).run_uid
        assert run_uid is not None
        locator = stream_locator(self.database.session, self.settings)
        run = PublishRun(self.database, self.settings, self.dataset_uid, run_uid, locator)
        started = time.perf_counter()
        outcome = run.execute()
        elapsed = time.perf_counter() - started
        with self.database.session() as session:
            dataset = service.get_dataset(session, self.dataset_uid)
            if outcome != "idle" or dataset.current_version_uid is None:
                raise RuntimeError(f"publish ended {outcome}: {dataset.status_message}")
            version = session.get(DatasetVersion, dataset.current_version_uid)
            assert version is not None
            return {
                "publish_s": round(elapsed, 3),
                "bytes_read": dataset.bytes_done,
                "records_read": dataset.records_done,
                "version_records": version.records_count,
                "version_files": len(version.files),
            }

    def close(self) -> None:
        self.database.dispose()


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def run(
    objects: int, records: int, added: int, data_dir: Path, out: Path | None, *, nagle: bool = False
) -> dict[str, Any]:
    root = data_dir / BUCKET
    prefix = f"incr-{time.time_ns()}"
    single = f"{prefix}-one.csv.gz"
    figures: dict[str, Any] = {}
    try:
        set_bytes = write_objects(root, prefix, range(objects), records)
        one_bytes = write_one_file(root, single, objects, records)
        with (
            BenchServer(data_dir, nodelay=not nagle) as server,
            tempfile.TemporaryDirectory(prefix="dw-bench-incr-") as tmp,
        ):
            obj = _obj(server, prefix)
            pattern = f"{prefix}/**/stations-*.csv.gz"
            sequential = Home(obj, Path(tmp) / "sequential", pattern, set_read_threads=1)
            figures["sequential"] = sequential.publish(only_if_changed=False)
            sequential.close()
            home = Home(obj, Path(tmp) / "set", pattern)
            figures["full"] = home.publish(only_if_changed=False)
            added_bytes = write_objects(root, prefix, range(objects, objects + added), records)
            figures["incremental"] = home.publish(only_if_changed=True)
            figures["full_again"] = home.publish(only_if_changed=False)
            home.close()
            one = Home(obj, Path(tmp) / "one", single)
            figures["one_file"] = one.publish(only_if_changed=False)
            one.close()
    finally:
        shutil.rmtree(root / prefix, ignore_errors=True)
        (root / single).unlink(missing_ok=True)
    seconds = {name: f["publish_s"] for name, f in figures.items()}
    result = {
        "what": "issue 18: incremental vs full publish of a glob; many small objects vs one file",
        "objects": objects,
        "records_each": records,
        "added": added,
        "set_bytes": set_bytes,
        "added_bytes": added_bytes,
        "one_file_bytes": one_bytes,
        "s3_server": SERVER.format(", Nagle on" if nagle else ", TCP_NODELAY"),
        "ms_per_object_full": round(seconds["full"] * 1000 / objects, 2),
        "ms_per_object_sequential": round(seconds["sequential"] * 1000 / objects, 2),
        "machine": results_file.machine(),
        "runs": figures,
        "ratio_incremental_over_full_again": _ratio(seconds["incremental"], seconds["full_again"]),
        "ratio_bytes_incremental_over_full_again": _ratio(
            figures["incremental"]["bytes_read"], figures["full_again"]["bytes_read"]
        ),
        "ratio_objects_over_one_file": _ratio(seconds["full"], seconds["one_file"]),
        "ratio_sequential_over_parallel": _ratio(seconds["sequential"], seconds["full"]),
    }
    results_file.write(out, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=1000, help="small objects in the glob (default 1000)")
    parser.add_argument("--records", type=int, default=50, help="records per object (default 50)")
    parser.add_argument("--added", type=int, default=10, help="objects added before the refresh (default 10)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="localbucket's folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    parser.add_argument(
        "--nagle", action="store_true", help="localbucket without TCP_NODELAY (40 ms per small answer)"
    )
    args = parser.parse_args(argv)
    result = run(args.objects, args.records, args.added, args.data_dir, args.out, nagle=args.nagle)
    runs = result["runs"]
    print(
        f"{args.objects} objects: full {runs['full']['publish_s']} s, +{args.added} incremental "
        f"{runs['incremental']['publish_s']} s vs full again {runs['full_again']['publish_s']} s "
        f"(ratio {result['ratio_incremental_over_full_again']}); one file of the same records "
        f"{runs['one_file']['publish_s']} s (objects/one file {result['ratio_objects_over_one_file']}); "
        f"sequential/parallel {result['ratio_sequential_over_parallel']}"
    )


if __name__ == "__main__":
    main()
