"""Smoke test of ``python -m bench.warehouse_s3`` (issue 14): a 1 MiB CSV published with the warehouse in
the local folder and on the bench's localbucket, its results file written. The 1 GiB run is too long for
the suite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.warehouse_s3 import WAREHOUSE_BUCKET, run  # noqa: E402


def test_the_bench_publishes_on_both_warehouses_and_reports_the_ratio(tmp_path: Path) -> None:
    out = tmp_path / "warehouse_s3.json"
    result = run(1, 1, tmp_path / "data", out)
    assert json.loads(out.read_text()) == result
    assert result["size_mib"] == 1 and result["rows"] > 1000
    (local,), (s3,) = result["local"], result["s3"]
    assert local["records"] == s3["records"] == result["rows"]
    assert local["parquet_bytes"] > 0 and s3["parquet_bytes"] > 0
    assert result["ratio_s3_over_local"] == round(result["s3_median_s"] / result["local_median_s"], 3)
    assert list((tmp_path / "data" / WAREHOUSE_BUCKET).iterdir()) == []  # its prefix removed after the run
