"""Smoke tests of issue 16's benchmarks, on tiny data against the real servers (localbucket, ``datawharf
serve``): the user's paths as whole processes, the Explore load benchmark beside DuckDB, the core
scaling run. The real figures come from ``python -m bench.user_paths``, ``bench.explore_load`` and
``bench.scaling`` (minutes, not part of the suite)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench import explore_load, scaling, user_paths  # noqa: E402
from bench.generate import MiB, ensure_data  # noqa: E402

from datawharf.odsql import QueryRequest  # noqa: E402


def test_user_paths_time_the_cli_the_api_and_the_peers_as_whole_processes(tmp_path: Path) -> None:
    files = ensure_data(tmp_path, seed=7, sizes={"1MiB": MiB}, derived=None)
    document = user_paths.run(tmp_path, [files["csv-1MiB"]], runs=1, log=lambda _: None)
    startup = document["startup"]
    assert set(startup) == {"--help", "datasets list", "python -c pass"}
    assert all(f["wall_s"] > 0 and f["cpu_s"] > 0 for f in startup.values())
    per_object = document["objects"]["csv-1MiB"]
    for path in user_paths.PATHS:
        assert per_object[path]["wall_s"] > 0 and per_object[path]["cpu_s"] > 0, path
    cli = per_object["datawharf CLI (2 commands)"]
    assert cli["create_s"] + cli["publish_s"] == pytest.approx(cli["wall_s"])
    assert per_object["ratios"]["best_peer"] in user_paths.PEERS
    table = user_paths.markdown(document)
    assert "csv-1MiB" in table and "`datasets list`" in table
    assert not (tmp_path / "_user_paths").exists()


def test_the_load_mix_covers_every_kind_and_renders_as_query_strings() -> None:
    drawn = explore_load.mix(400)
    kinds = {kind for kind, _ in drawn}
    expected = {"page", "filter", "search", "order_by", "refine", "group_by", "aggregate", "export"}
    assert kinds == expected
    assert explore_load.mix(50) == explore_load.mix(50)  # seeded: both sides get the same sequence
    assert len({repr(request) for _, request in drawn}) < len(drawn)  # repeats happen...
    assert len({repr(request) for _, request in drawn}) > 40  # ...not always
    request = QueryRequest(where=["a = 1", "b = 2"], refine=["category:b"], limit=10, offset=20)
    assert explore_load.http_params(request) == [
        ("where", "a = 1"),
        ("where", "b = 2"),
        ("refine", "category:b"),
        ("limit", "10"),
        ("offset", "20"),
    ]


def test_explore_load_runs_the_mix_on_serve_and_on_duckdb_without_errors(tmp_path: Path) -> None:
    document = explore_load.run(tmp_path, rows=20_000, client_counts=[3], seconds=1.0, log=lambda _: None)
    sides = document["clients"][3]
    for side in ("datawharf", "duckdb"):
        figures = sides[side]
        assert figures["errors"] == 0, figures["error_samples"]
        assert figures["requests"] > 0 and figures["throughput_rps"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert "datawharf / duckdb" in explore_load.markdown(document)


def test_amdahls_model_from_the_two_points() -> None:
    assert scaling.amdahl(2.0, 16) == pytest.approx(16)  # perfectly parallel
    assert scaling.amdahl(1.0, 16) == pytest.approx(1)  # all serial
    assert scaling.amdahl(1.6, 16) == pytest.approx(1 / (0.25 + 0.75 / 16))


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_scaling_publishes_on_one_then_two_cores(tmp_path: Path) -> None:
    document = scaling.run(tmp_path, "1MiB", runs=1, log=lambda _: None, size_bytes=MiB)
    assert set(document["cores"]) == {1, 2}
    assert all(figure["timed_s"] > 0 and figure["mib_s"] > 0 for figure in document["cores"].values())
    assert document["model_16_cores"]["speedup"] >= 1
    assert "16 cores (model)" in scaling.markdown(document)
