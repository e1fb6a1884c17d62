"""The publish of one CSV with the warehouse in the local folder, then on an S3 server, as a ratio.

``python -m bench.warehouse_s3 --size-mib N`` (issue 14: the closing note wants the 1 GiB figures,
``--size-mib 1024``). The CSV is the bench's generated open data (``bench.generate``), read from
localbucket (``bench.server``: a folder served as a bucket, no upload); the S3 warehouse is another
folder of the same localbucket (``s3://dw-warehouse/<run>``), so both sides run on this machine and the
ratio measures what writing through pyarrow's S3 filesystem and an S3 server costs against a local
file, not a network. Each side gets a fresh home (SQLite), the same dataset created the same way as the
main benchmark's publish (``bench.datawharf_contenders``), then one timed ``PublishRun.execute``; the
sides alternate for ``--rounds`` rounds and the medians are compared. Results go to
``bench/results/warehouse_s3.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import results_file
from bench.datawharf_contenders import _create_dataset, _sigv4
from bench.generate import DEFAULT_DATA_DIR, DEFAULT_SEED, MiB, ensure_data
from bench.objects import S3Object
from bench.server import BenchServer

RESULTS = Path(__file__).resolve().parent / "results" / "warehouse_s3.json"
WAREHOUSE_BUCKET = "dw-warehouse"
SERVER = "localbucket 1.2.1 (bench.lbserve), on loopback"


def _settings(obj: S3Object, home: Path, warehouse: str | None) -> Any:
    from datawharf.settings import Settings

    values: dict[str, Any] = {"home": home, "allowed_private_hosts": [obj.host_port]}
    if warehouse is not None:
        values |= {
            "warehouse_url": warehouse,
            "warehouse_endpoint_url": obj.endpoint_url,
            "warehouse_access_key_id": obj.access_key,
            "warehouse_secret_access_key": obj.secret_key,
        }
    return Settings(**values)


def publish_once(obj: S3Object, home: Path, warehouse: str | None) -> dict[str, Any]:
    """One dataset created, then published (timed); the version's files checked where they landed."""
    from datawharf.connections import service as connections
    from datawharf.connections.schemas import ConnectionCreate
    from datawharf.datasets import control, service
    from datawharf.datasets.locate import stream_locator
    from datawharf.datasets.publish import PublishRun
    from datawharf.store.db import open_database
    from datawharf.store.models.datasets import DatasetVersion
    from datawharf.store.warehouse import make_warehouse

    settings = _settings(obj, home, warehouse)
    database = open_database(settings)
    try:
        with database.session() as session:
            connection = connections.create_connection(
                session, settings, ConnectionCreate.model_validate(_sigv4(obj))
            )
            datasource = {"type": "amazon_s3", "url": obj.key, "connection": {"uid": connection.uid}}
        dataset_uid = _create_dataset(database, settings, datasource, title=obj.key)
        with database.session() as session:
            run_uid = control.request_publish(session, dataset_uid, only_if_changed=False).run_uid
        assert run_uid is not None
        run = PublishRun(database, settings, dataset_uid, run_uid, stream_locator(database.session, settings))
        started = time.perf_counter()
        outcome = run.execute()
        elapsed = time.perf_counter() - started
        with database.session() as session:
            dataset = service.get_dataset(session, dataset_uid)
            if outcome != "idle" or dataset.current_version_uid is None:
                raise RuntimeError(f"publish ended {outcome}: {dataset.status_message}")
            version = session.get(DatasetVersion, dataset.current_version_uid)
            assert version is not None
            records, size, data_uid = version.records_count, version.size_bytes, version.data_uid
        store = make_warehouse(settings)
        path = f"{store.version_path(dataset_uid, data_uid)}/{version.files[0]}"
        written = store.filesystem.get_file_info(path).size
        if written != size:
            raise RuntimeError(f"{path}: {written} bytes in the warehouse, {size} recorded")
    finally:
        database.dispose()
    return {"publish_s": round(elapsed, 3), "records": records, "parquet_bytes": size}


def run(size_mib: int, rounds: int, data_dir: Path, out: Path | None) -> dict[str, Any]:
    size_name = f"{size_mib}MiB"
    files = ensure_data(data_dir, DEFAULT_SEED, sizes={size_name: size_mib * MiB}, derived=None)
    data = files[f"csv-{size_name}"]
    (data_dir / WAREHOUSE_BUCKET).mkdir(parents=True, exist_ok=True)
    local: list[dict[str, Any]] = []
    s3: list[dict[str, Any]] = []
    with BenchServer(data_dir) as server, tempfile.TemporaryDirectory(prefix="dw-bench-wh-") as tmp:
        server.warm([data])
        obj = server.object(data)
        for round_ in range(rounds):
            local.append(publish_once(obj, Path(tmp) / f"local-{round_}", None))
            prefix = f"run-{time.time_ns()}"
            try:
                s3.append(publish_once(obj, Path(tmp) / f"s3-{round_}", f"s3://{WAREHOUSE_BUCKET}/{prefix}"))
            finally:
                shutil.rmtree(data_dir / WAREHOUSE_BUCKET / prefix, ignore_errors=True)
    local_s = statistics.median(r["publish_s"] for r in local)
    s3_s = statistics.median(r["publish_s"] for r in s3)
    result = {
        "what": "publish of one generated CSV, the warehouse in the local folder vs on an S3 server",
        "size_mib": size_mib,
        "csv_bytes": data.bytes,
        "rows": data.rows,
        "rounds": rounds,
        "s3_server": SERVER,
        "machine": results_file.machine(),
        "local": local,
        "s3": s3,
        "local_median_s": local_s,
        "s3_median_s": s3_s,
        "ratio_s3_over_local": round(s3_s / local_s, 3) if local_s else None,
        "local_mib_s": round(data.bytes / MiB / local_s, 1) if local_s else None,
        "s3_mib_s": round(data.bytes / MiB / s3_s, 1) if s3_s else None,
    }
    results_file.write(out, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=64, help="CSV size in MiB (default 64)")
    parser.add_argument("--rounds", type=int, default=1, help="local/S3 pairs, medians compared (default 1)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="generated data (cached)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    result = run(args.size_mib, args.rounds, args.data_dir, args.out)
    print(
        f"{args.size_mib} MiB CSV, {result['rows']} rows: local {result['local_median_s']:.2f} s, "
        f"S3 ({SERVER}) {result['s3_median_s']:.2f} s, ratio S3/local {result['ratio_s3_over_local']}"
    )


if __name__ == "__main__":
    main()
