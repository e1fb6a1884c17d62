"""Smoke tests of the benchmark harness (issue 8): the generator, the localbucket server and its byte
counter, and every peer contender once, on small files against the real server. The full benchmark
(``python -m bench.run``) is too long for the suite."""

from __future__ import annotations

import csv
import json
import re
import sys
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.generate import COLUMNS, MiB, ensure_data  # noqa: E402
from bench.measure import TYPE_CHECKS  # noqa: E402
from bench.peers import PEERS, TRANSPORT  # noqa: E402
from bench.report import markdown, ratios  # noqa: E402
from bench.run import run_benchmark, select_objects  # noqa: E402
from bench.server import BenchServer  # noqa: E402

SMALL = {"1MiB": MiB}


def _generate(data_dir: Path, seed: int = 7) -> dict:
    return ensure_data(data_dir, seed=seed, sizes=SMALL, derived="1MiB")


def _records(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_generator_writes_the_hard_parts_of_real_open_data(tmp_path: Path) -> None:
    files = _generate(tmp_path)
    data = files["csv-1MiB"]
    assert abs(data.bytes - MiB) < 4096  # to within one record
    records = _records(data.path)
    header, body = records[0], records[1:]
    assert header == COLUMNS
    assert len(body) == data.rows
    assert {len(record) for record in records} == {len(COLUMNS)}
    column = {name: [record[i] for record in body] for i, name in enumerate(COLUMNS)}
    assert [int(value) for value in column["id"]] == list(range(1, data.rows + 1))
    assert all(re.fullmatch(r"\d{5}", code) for code in column["code_postal"])
    assert any(code.startswith("0") for code in column["code_postal"])  # "01000": must stay text
    assert any("\n" in text for text in column["description"])  # the odd quoted newline
    assert any("," in name for name in column["nom"]) and any('"' in name for name in column["nom"])
    assert any("é" in name or "è" in name for name in column["nom"])
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in column["date_ouverture"] if d)
    assert all(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", d)
        for d in column["derniere_maj"]
        if d
    )
    assert all(re.fullmatch(r"-?\d+\.\d+,-?\d+\.\d+", p) for p in column["geo_point"] if p)
    for name in ("statut", "surface_m2", "capacite", "date_ouverture", "geo_point", "description"):
        assert "" in column[name], f"{name} has no empty cell"
    assert sum(len(text) for text in column["description"]) / len(body) > 200  # the long free text
    # The raw file really quotes: a comma inside a name is inside quotes, a doubled quote is escaped.
    raw = data.path.read_text(encoding="utf-8")
    assert '""La Halle""' in raw and '"48.' in raw


def test_generator_is_deterministic_by_seed_and_cached(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a")["csv-1MiB"]
    again = _generate(tmp_path / "b")["csv-1MiB"]
    other = _generate(tmp_path / "c", seed=8)["csv-1MiB"]
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.path.read_bytes() != other.path.read_bytes()
    modified = first.path.stat().st_mtime_ns
    assert _generate(tmp_path / "a")["csv-1MiB"].path.stat().st_mtime_ns == modified  # not regenerated
    changed = ensure_data(tmp_path / "a", seed=9, sizes=SMALL, derived=None)["csv-1MiB"]
    assert changed.seed == 9 and changed.path.read_bytes() != again.path.read_bytes()


def test_derived_versions_hold_the_same_rows(tmp_path: Path) -> None:
    files = _generate(tmp_path)
    plain = files["csv-1MiB"]
    text_types = {name: pa.string() for name in ("code_postal", "derniere_maj", "geo_point")}
    from_csv = pacsv.read_csv(
        plain.path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=text_types, strings_can_be_null=True),
    )
    from_gzip = pacsv.read_csv(
        files["csvgz-1MiB"].path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=text_types, strings_can_be_null=True),
    )
    from_parquet = pq.read_table(files["parquet-1MiB"].path)
    lines = files["jsonl-1MiB"].path.read_text(encoding="utf-8").splitlines()
    assert from_csv.equals(from_gzip)
    assert files["csvgz-1MiB"].content_bytes == plain.bytes > files["csvgz-1MiB"].bytes
    assert from_parquet.num_rows == len(lines) == from_csv.num_rows == plain.rows
    assert from_parquet.schema.field("code_postal").type == pa.string()
    assert from_parquet.schema.field("date_ouverture").type == pa.date32()
    assert pa.types.is_timestamp(from_parquet.schema.field("derniere_maj").type)
    for column in ("id", "nom", "code_postal", "description", "date_ouverture", "surface_m2"):
        assert from_parquet.column(column).equals(from_csv.column(column)), column
    last = json.loads(lines[-1])
    assert last["id"] == plain.rows and last["code_postal"] == from_csv.column("code_postal")[-1].as_py()
    assert last["derniere_maj"] in (from_csv.column("derniere_maj")[-1].as_py(), None)


def test_localbucket_serves_ranges_and_counts_bytes(tmp_path: Path) -> None:
    data = _generate(tmp_path)["csv-1MiB"]
    with BenchServer(tmp_path) as server:
        before = server.stats()
        request = urllib.request.Request(
            f"{server.endpoint_url}/bench/{data.key}", headers={"Range": "bytes=1000-1999"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 206
            assert response.read() == data.path.read_bytes()[1000:2000]
        after = server.stats()
    assert after["bytes_sent"] - before["bytes_sent"] == 1000
    assert after["get_requests"] - before["get_requests"] == 1


def test_every_contender_once_on_every_format(tmp_path: Path) -> None:
    """One round of the real benchmark on 1 MiB files: the transport ceiling and every peer."""
    files = _generate(tmp_path)
    objects = select_objects(files, ["1MiB"], ("csv", "csvgz", "jsonl", "parquet"))
    assert [o.name for o in objects] == ["csv-1MiB"]  # derived files go with DERIVED_SIZE only...
    objects += [files[f"{fmt}-1MiB"] for fmt in ("csvgz", "jsonl", "parquet")]  # ...so add them here
    document = run_benchmark(tmp_path, objects, [TRANSPORT, *PEERS], runs=1, log=lambda _: None)
    assert not (tmp_path / "_runs").exists()
    results = document["results"]
    assert set(results) == {o.name for o in objects}
    for data_file in objects:
        per_object = results[data_file.name]
        transport = per_object["transport"]
        assert transport["bytes_fetched"] == data_file.bytes and transport["mib_s"] > 0
        for peer in PEERS:
            summary = per_object[peer.task][peer.tool]
            where = f"{peer.tool} {peer.task} {data_file.name}: {summary}"
            assert "error" not in summary, where
            assert summary["wall_s"] > 0 and summary["peak_rss_mb"] > 20, where
            assert summary["bytes_fetched"] > 0, where
            if peer.task == "preview":
                assert summary["rows"] == 20 and list(summary["columns"]) == COLUMNS, where
            else:
                assert summary["rows_ok"] and summary["rows"] == data_file.rows, where
                assert set(summary["types"]) == set(TYPE_CHECKS), where
    # What the benchmark is there to show, on the plain CSV: which peers get the types wrong.
    imports = results["csv-1MiB"]["import"]
    assert all(imports["duckdb"]["types_right"].values())
    for tool in ("pyarrow", "polars", "pandas"):
        assert not imports[tool]["types_right"]["code_postal"], tool
    for tool in ("polars", "pandas"):
        assert not imports[tool]["types_right"]["date_ouverture"], tool
        assert not imports[tool]["types_right"]["derniere_maj"], tool
    ratio = document["ratios"]["csv-1MiB"]["import"]
    assert ratio["best_peer"] in {"duckdb", "pyarrow", "polars", "pandas"}
    assert ratio["datawharf_vs_best_peer"] is None  # datawharf's contenders are not there yet
    assert "not yet" in markdown({**document, "runs": 1})


def test_ratios_compare_datawharf_with_the_best_peer_and_the_transport() -> None:
    per_object = {
        "transport": {"mib_s": 1000.0},
        "import": {
            "polars": {"mib_s": 300.0},
            "duckdb": {"mib_s": 200.0},
            "pandas": {"error": "boom"},
            "datawharf": {"mib_s": 360.0},
        },
        "preview": {
            "polars": {"wall_s": 0.2, "bytes_fetched": 4 * MiB},
            "pyarrow": {"wall_s": 0.1, "bytes_fetched": 8 * MiB},
            "datawharf": {"wall_s": 0.05, "bytes_fetched": MiB // 2},
        },
    }
    computed = ratios(per_object)
    assert computed["import"]["best_peer"] == "polars"
    assert computed["import"]["datawharf_vs_best_peer"] == pytest.approx(1.2)
    assert computed["import"]["datawharf_vs_transport"] == pytest.approx(0.36)
    assert computed["import"]["peers_vs_transport"] == pytest.approx(0.3)
    assert computed["preview"]["best_peer"] == "pyarrow"
    assert computed["preview"]["datawharf_vs_best_peer_latency"] == pytest.approx(0.5)
    assert computed["preview"]["least_fetching_peer"] == "polars"
    assert computed["preview"]["datawharf_vs_least_fetched"] == pytest.approx(0.125)


def test_profile_writes_a_flame_graph_and_still_measures(tmp_path: Path) -> None:
    from bench.measure import run_once

    data = _generate(tmp_path)["csv-1MiB"]
    polars_preview = next(p for p in PEERS if p.tool == "polars" and p.task == "preview")
    with BenchServer(tmp_path) as server:
        run = run_once(
            polars_preview, server.object(data), server, tmp_path / "_runs", profile_to=tmp_path / "p.svg"
        )
    assert run.error is None and run.result["rows"] == 20 and run.peak_rss_mb > 20
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")


def test_child_reports_a_failing_contender_as_an_error(tmp_path: Path) -> None:
    from bench.measure import run_once
    from bench.objects import Contender

    data = _generate(tmp_path)["csv-1MiB"]
    missing = Contender("pyarrow", "import", "bench.peers:pyarrow_import", ("csv",))
    with BenchServer(tmp_path) as server:
        obj = server.object(data)
        wrong_key = type(obj)(**{**json.loads(obj.to_json()), "key": "absent.csv"})
        run = run_once(missing, wrong_key, server, tmp_path / "_runs")
    assert run.error is not None and run.wall_s is None
    assert "absent.csv" in run.error or "NoSuchKey" in run.error or "not found" in run.error.lower()


def test_child_hides_the_packages_a_contender_does_not_depend_on(tmp_path: Path) -> None:
    """An ``absent`` package cannot be imported in the contender's process, as where it is not installed
    (so pyarrow's first array does not load pandas for datawharf's contender); the rest runs as usual."""
    import os
    import subprocess

    from bench.child import ABSENT_PREFIX
    from bench.datawharf_contenders import ABSENT, datawharf_contenders
    from bench.objects import S3Object

    assert all(c.absent == ABSENT and "pandas" in c.absent for c in datawharf_contenders())
    (tmp_path / "probe_contender.py").write_text(
        "import sys\n"
        "def probe(obj, out_dir):\n"
        "    import pyarrow as pa\n"
        "    pa.array([1])\n"
        "    try:\n"
        "        import pandas\n"
        "        error = None\n"
        "    except ModuleNotFoundError as exc:\n"
        "        error = exc.name\n"
        "    return {'loaded': 'pandas' in sys.modules, 'error': error, 'key': obj.key}\n"
    )
    obj = S3Object("http://127.0.0.1:1", "bench", "k.csv", 1, 1, "csv", 1)
    command = [sys.executable, "-m", "bench.child", "probe_contender:probe", obj.to_json(), str(tmp_path)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)])}
    for absent, expected in (([f"{ABSENT_PREFIX}pandas"], (False, "pandas")), ([], (True, None))):
        done = subprocess.run(
            command + absent, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout.splitlines()[-1])["result"]
        assert (result["loaded"], result["error"]) == expected, absent
        assert result["key"] == "k.csv"


def test_datawharf_contenders_once_on_every_format(tmp_path: Path) -> None:
    """datawharf's preview (the API's core call) and publish (create + publish, as the CLI does) once on
    each 1 MiB object, against the real localbucket server: every row kept, the types right where peers
    get them wrong, a preview that fetches little; then the ratios against a peer and the transport."""
    from bench.datawharf_contenders import COLD, TOOL, datawharf_contenders

    files = _generate(tmp_path)
    objects = [files[f"{fmt}-1MiB"] for fmt in ("csv", "csvgz", "jsonl", "parquet")]
    polars_import = next(p for p in PEERS if p.tool == "polars" and p.task == "import")
    contenders = [TRANSPORT, polars_import, *datawharf_contenders()]
    expected = {(TOOL, "preview"), (COLD, "preview"), (TOOL, "import")}
    assert {(c.tool, c.task) for c in datawharf_contenders()} == expected
    document = run_benchmark(tmp_path, objects, contenders, runs=1, log=lambda _: None)
    for data_file in objects:
        per_object = document["results"][data_file.name]
        for tool in (TOOL, COLD):  # the API's preview in a warm process, and a fresh process's first
            preview = per_object["preview"][tool]
            where = f"{tool} {data_file.name}: {preview}"
            assert "error" not in preview, where
            assert preview["rows"] == 20 and list(preview["columns"]) == COLUMNS, where
            assert preview["columns"]["code_postal"] == "text", where
            assert preview["columns"]["date_ouverture"] == "date", where
            assert preview["columns"]["derniere_maj"] == "datetime", where
            assert 0 < preview["bytes_fetched"] < 512 * 1024, where  # a sample, not the object
            assert 0 < preview["wall_s"] < 30, where
        assert per_object["preview"][COLD]["bytes_fetched"] == per_object["preview"][TOOL]["bytes_fetched"]
        published = per_object["import"][TOOL]
        where = f"{data_file.name}: {published}"
        assert "error" not in published, where
        assert published["rows_ok"] and published["rows"] == data_file.rows, where
        assert published["types_right"] == dict.fromkeys(TYPE_CHECKS, True), where
        assert published["types"]["derniere_maj"] == "timestamp[us, tz=UTC]", where
        # The whole object was read (gzip: its compressed bytes), no more than twice over.
        assert data_file.bytes <= published["bytes_fetched"] <= 2 * data_file.bytes + 256 * 1024, where
        ratio = document["ratios"][data_file.name]["import"]
        assert ratio["best_peer"] == "polars", where
        assert ratio["datawharf_vs_best_peer"] == pytest.approx(
            published["mib_s"] / per_object["import"]["polars"]["mib_s"]
        )
        assert ratio["datawharf_vs_transport"] == pytest.approx(
            published["mib_s"] / per_object["transport"]["mib_s"]
        )
    table = markdown({**document, "runs": 1})
    assert "not yet" not in table.split("**Types right?")[1]  # datawharf's types row is filled
