"""Smoke test of ``python -m bench.incremental`` (issue 18): a small glob on the bench's localbucket,
published full, refreshed incrementally, published again, sequentially, and as one file; its results
file written. The 1,000-object run is too long for the suite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.generate import BUCKET  # noqa: E402
from bench.incremental import run  # noqa: E402


def test_the_bench_compares_incremental_with_full_and_objects_with_one_file(tmp_path: Path) -> None:
    out = tmp_path / "incremental.json"
    result = run(30, 4, 3, tmp_path / "data", out)
    assert json.loads(out.read_text()) == result
    runs = result["runs"]
    assert runs["full"]["version_records"] == runs["sequential"]["version_records"] == 30 * 4
    assert runs["one_file"]["version_records"] == 30 * 4
    # The refresh read the three new objects only, and shares the first version's part.
    assert runs["incremental"]["bytes_read"] == result["added_bytes"]
    assert runs["incremental"]["records_read"] == 3 * 4
    assert runs["incremental"]["version_records"] == runs["full_again"]["version_records"] == 33 * 4
    assert runs["incremental"]["version_files"] == 2 and runs["full_again"]["version_files"] == 1
    assert runs["full_again"]["bytes_read"] == result["set_bytes"] + result["added_bytes"]
    assert result["ratio_bytes_incremental_over_full_again"] < 0.2
    assert list((tmp_path / "data" / BUCKET).iterdir()) == []  # its objects removed after the run
