"""``python -m bench.issue16 --smoke``: every measurement of issue 16's "Done means" on tiny data, against
the real servers (localbucket, ``datawharf serve``, DuckDB), into a results file and a README block. The
real figures come from the same command without ``--smoke`` (10-15 minutes, not part of the suite)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench import issue16, user_paths  # noqa: E402


@pytest.mark.skipif(shutil.which("taskset") is None, reason="the scaling part needs taskset")
def test_issue16_measures_everything_and_rewrites_only_its_readme_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Benchmarks\n\nkept above\n\n{issue16.BEGIN}\nold figures\n{issue16.END}\n\nkept below\n"
    )
    results = tmp_path / "issue16.json"
    args = [
        "--smoke",
        "--data-dir",
        str(tmp_path / "data"),
        "--results",
        str(results),
        "--readme",
        str(readme),
    ]
    # As a user runs it, in its own process (and with no event loop of an earlier test around).
    subprocess.run([sys.executable, "-m", "bench.issue16", *args], cwd=REPO_ROOT, check=True, timeout=1200)

    document = json.loads(results.read_text())
    assert document["machine"]["commit"] != "unknown" and len(document["load_average_after"]) == 3
    startup = document["user_paths"]["startup"]
    assert set(startup) == {"--help", "datasets list", "python -c pass"}
    assert all(f["wall_s"] > 0 and f["cpu_s"] > 0 for f in startup.values())
    per_object = document["user_paths"]["objects"]["csv-1MiB"]
    for path in user_paths.PATHS:
        assert per_object[path]["wall_s"] > 0 and per_object[path]["cpu_s"] > 0, path
    two = per_object["datawharf CLI (2 commands)"]
    assert two["create_s"] + two["publish_s"] == pytest.approx(two["wall_s"])
    assert per_object["ratios"]["best_peer"] in user_paths.PEERS
    for side in ("datawharf", "duckdb"):
        figures = document["explore_load"]["clients"]["3"][side]
        assert figures["errors"] == 0, figures["error_samples"]
        assert figures["requests"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert set(document["scaling"]["cores"]) == {"1", "2"}
    assert all(f["timed_s"] > 0 for f in document["scaling"]["cores"].values())
    assert document["scaling"]["model_16_cores"]["speedup"] >= 1
    imported = document["csv_import"]["by_tool"]
    assert set(imported) == set(issue16.IMPORT_TOOLS)
    assert all(imported["datawharf"]["types_right"].values())  # the types are right even on tiny data
    goals = {
        g["goal"]: g for g in document["goals"]
    }  # 2 start-up, 1 fixed cost, 1 object, 3 load, 1 scaling, 3 import
    assert len(goals) == 11 and all(g["figure"] for g in goals.values())

    text = readme.read_text()
    assert text.startswith("# Benchmarks\n\nkept above\n\n") and text.endswith("\n\nkept below\n")
    assert "old figures" not in text and text.count(issue16.BEGIN) == 1 and text.count(issue16.END) == 1
    for heading in ("#### Goals", "`datasets list`", "datawharf / duckdb", "16 cores (model)", "types right"):
        assert heading in text, heading
    assert f"`{document['machine']['commit']}`" in text and "python -m bench.issue16 --smoke" in text
    marks = [line for line in text.splitlines() if line.startswith(("| 1.", "| 2.", "| 3.", "| 4.", "| 5."))]
    assert len(marks) == 11 and all("| ✓ |" in line or "| ✗ |" in line for line in marks)
    readme.write_text(f"{issue16.BEGIN}\nstale\n{issue16.END}\n")  # the block again, from the file alone
    issue16.main(["--render-only", "--results", str(results), "--readme", str(readme)])
    assert readme.read_text() == f"{issue16.BEGIN}\n\n{issue16.markdown(document)}\n\n{issue16.END}\n"


def test_a_readme_without_the_markers_gets_the_block_appended(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n")
    issue16.write_readme(readme, "figures")
    assert readme.read_text() == f"# Benchmarks\n\n{issue16.BEGIN}\n\nfigures\n\n{issue16.END}\n"
    issue16.write_readme(readme, "newer")
    assert readme.read_text() == f"# Benchmarks\n\n{issue16.BEGIN}\n\nnewer\n\n{issue16.END}\n"
