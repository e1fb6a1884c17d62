"""Smoke test of ``python -m bench.parts`` (issue 18, item 4): a small glob published by each contender's
``datawharf worker`` subprocesses on a fresh PostgreSQL database, unsplit and split into part runs (and
the control, unsplit on two read threads), its results file written. The 2,000-object run is too long
for the suite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.generate import BUCKET  # noqa: E402
from bench.parts import run  # noqa: E402
from bench.postgres import PostgresUnavailable  # noqa: E402
from bench.warehouse_s3 import WAREHOUSE_BUCKET  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OBJECTS, RECORDS, SPLIT = 12, 3, 4


def test_the_bench_times_one_publish_unsplit_and_split_over_one_and_two_workers(tmp_path: Path) -> None:
    out = tmp_path / "parts.json"
    try:
        result = run(OBJECTS, RECORDS, SPLIT, 1, tmp_path / "data", out)
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    assert json.loads(out.read_text()) == result
    (a,), (b,), (c,), (d,) = (result["measured"][name] for name in "abcd")
    for figures in (a, b, c, d):
        assert figures["version_records"] == OBJECTS * RECORDS
        assert figures["bytes_read"] == result["set_bytes"]
        assert figures["coordinator_core"] in (0, 1)
    # The coordinator reads the first object, the other 11 go to parts of 4, 4 and 3 objects.
    assert (a["parts"], a["version_files"]) == (0, 1) == (d["parts"], d["version_files"])
    assert (b["parts"], b["version_files"], b["parts_by_core"]) == (3, 4, {"core0": 3})
    assert (c["parts"], c["version_files"]) == (3, 4)
    assert sum(c["parts_by_core"].values()) == 3 and set(c["parts_by_core"]) <= {"core0", "core1"}
    assert c["warmed_up_cores"] == [0, 1]  # each of the two workers ran one warm-up publish
    assert result["ratio_c_over_a"] == round(result["median_s"]["c"] / result["median_s"]["a"], 3)
    assert result["objects_per_s"]["b"] == round(OBJECTS / result["median_s"]["b"], 1)
    # Its objects and its warehouse prefix are removed after the run.
    assert list((tmp_path / "data" / BUCKET).iterdir()) == []
    assert list((tmp_path / "data" / WAREHOUSE_BUCKET).iterdir()) == []
