"""The user's paths (issue 16, item 2): whole processes, timed from outside, beside the peers' own.

    python -m bench.user_paths                          # 256 MiB (plain and gzip) and 1 GiB, 3 runs
    python -m bench.user_paths --sizes 16MiB --runs 1   # a quick look

``bench.run`` times each contender's call inside a warm process; a user runs a command and waits for
the shell prompt. Here every figure is a fresh process (or two) timed by the harness, interpreter start
and library imports included, and its CPU seconds (user + system, from the children's ``rusage``):

- **CLI start-up**: ``datawharf --help`` and ``datawharf datasets list`` (on a migrated home).
- **polars** and **DuckDB**: ``python -c`` running the peers' own lines (``bench.peers``) on the object.
- **datawharf CLI**: ``datawharf datasets create --connection CO --title T KEY --publish --wait`` (one
  process), and beside it the two commands ``datasets create ...`` then ``datasets publish D --wait``, on
  a home where the connection was saved beforehand (once per user, not timed, as the peers' installs
  are not).
- **datawharf API**: a running ``datawharf serve`` (started before the clock, as a service is): from the
  first POST (the dataset, the guess through the unsaved preview, the resource, the publish) to the
  moment the Explore API serves the version with every record (``total_count``).

The datawharf processes run without pandas, polars and s3fs importable (``bench.child``'s rule: they
are in the bench's environment for the peers only). Results: ``bench/results/user_paths.json``.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.datawharf_contenders import ABSENT, _sigv4
from bench.generate import DEFAULT_DATA_DIR, DEFAULT_SEED, DERIVED_SIZE, SIZES, DataFile, ensure_data
from bench.objects import S3Object
from bench.server import BenchServer

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "user_paths.json"
PEERS = ("polars", "duckdb")
API = "/api/automation/v1.0"
ADMIN_KEY = "b" * 64
#: Runs ``datawharf`` as its console script does, with the bench-only packages unimportable.
CLI = (
    "import runpy, sys\n"
    "from bench.child import _Absent\n"
    "sys.meta_path.insert(0, _Absent(sys.argv[1].split(',')))\n"
    "sys.argv = ['datawharf', *sys.argv[2:]]\n"
    "runpy.run_module('datawharf', run_name='__main__')\n"
)
PEER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from bench import peers\n"
    "from bench.objects import S3Object\n"
    "getattr(peers, sys.argv[1] + '_import')(S3Object.from_json(sys.argv[2]), Path(sys.argv[3]))\n"
)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], stdin: str | None = None) -> dict[str, Any]:
    """One process, timed from outside: wall and CPU seconds, and its output."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, input=stdin)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])}... failed ({done.returncode}): {done.stderr[-1500:]}")
    return {"wall_s": wall, "cpu_s": _children_cpu() - cpu, "stdout": done.stdout, "stderr": done.stderr}


def _environment(home: Path | None = None, allowed: str = "") -> dict[str, str]:
    """The bench's environment without the developer's datawharf or AWS settings; ``src`` first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an install has its bytecode: no command compiles its sources
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "200"
    if home is not None:
        env["DATAWHARF_HOME"] = str(home)
    if allowed:
        env["DATAWHARF_ALLOWED_PRIVATE_HOSTS"] = allowed
    return env


def datawharf(env: dict[str, str], *args: str) -> dict[str, Any]:
    return timed([sys.executable, "-c", CLI, ",".join(ABSENT), *args], env)


def _save_connection(env: dict[str, str], obj: S3Object) -> str:
    """What ``datawharf connections create`` does once per user (also migrates the fresh home)."""
    script = (
        "import json, sys\n"
        "from datawharf.connections import service\n"
        "from datawharf.connections.schemas import ConnectionCreate\n"
        "from datawharf.settings import Settings\n"
        "from datawharf.store.db import open_database\n"
        "settings = Settings(); db = open_database(settings)\n"
        "with db.session() as s:\n"
        "    body = ConnectionCreate.model_validate(json.loads(sys.argv[1]))\n"
        "    print(service.create_connection(s, settings, body).uid)\n"
        "db.dispose()\n"
    )
    return timed([sys.executable, "-c", script, json.dumps(_sigv4(obj))], env)["stdout"].strip()


def _rows(folder: Path) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.rglob("*.parquet"))


def startup(work: Path, runs: int) -> dict[str, Any]:
    """``datawharf --help`` and ``datawharf datasets list`` (the home migrated by a first, untimed, list)."""
    env = _environment(work / "startup-home")
    datawharf(env, "datasets", "list")
    figures: dict[str, Any] = {}
    for name, args in (("--help", ("--help",)), ("datasets list", ("datasets", "list"))):
        measured = [datawharf(env, *args) for _ in range(runs)]
        figures[name] = _summary(measured)
    bare = [timed([sys.executable, "-c", "pass"], env) for _ in range(runs)]
    figures["python -c pass"] = _summary(bare)
    return figures


def _summary(measured: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "wall_s": statistics.median(m["wall_s"] for m in measured),
        "cpu_s": statistics.median(m["cpu_s"] for m in measured),
        "all_wall_s": [round(m["wall_s"], 3) for m in measured],
        **extra,
    }


def peer_run(tool: str, obj: S3Object, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    measured = timed([sys.executable, "-c", PEER, tool, obj.to_json(), str(out)], _environment())
    measured["rows"] = _rows(out)
    return measured


def _cli_home(obj: S3Object, out: Path) -> tuple[dict[str, str], str, dict[str, Any]]:
    """A home that already has the connection, and its ``datasets list`` (start-up + an open database:
    the floor a create starts from)."""
    env = _environment(out / "home", allowed=obj.host_port)
    connection = _save_connection(env, obj)
    return env, connection, datawharf(env, "datasets", "list")


def _created(stdout: str) -> tuple[str, str]:
    found = re.search(r"Created dataset (da_\w+) \(([\w-]+)\)", stdout)
    if not found:
        raise RuntimeError(f"no dataset in: {stdout}")
    return found.group(1), found.group(2)


def cli_run(obj: S3Object, out: Path) -> dict[str, Any]:
    """``datasets create --publish --wait``: create and publish in one process."""
    env, connection, list_ = _cli_home(obj, out)
    args = ("datasets", "create", "--connection", connection, "--title", obj.key, obj.key)
    done = datawharf(env, *args, "--publish", "--wait")
    uid, _ = _created(done["stdout"])
    return {
        "wall_s": done["wall_s"],
        "cpu_s": done["cpu_s"],
        "startup_s": list_["wall_s"],
        "rows": _rows(out / "home" / "warehouse" / uid),
    }


def cli_two_run(obj: S3Object, out: Path) -> dict[str, Any]:
    """``datasets create`` + ``datasets publish --wait``: two processes, two start-ups."""
    env, connection, list_ = _cli_home(obj, out)
    create = datawharf(env, "datasets", "create", "--connection", connection, "--title", obj.key, obj.key)
    uid, dataset_id = _created(create["stdout"])
    publish = datawharf(env, "datasets", "publish", dataset_id, "--wait")
    return {
        "wall_s": create["wall_s"] + publish["wall_s"],
        "cpu_s": create["cpu_s"] + publish["cpu_s"],
        "create_s": create["wall_s"],
        "create_own_s": create["wall_s"] - list_["wall_s"],
        "create_own_cpu_s": create["cpu_s"] - list_["cpu_s"],
        "publish_s": publish["wall_s"],
        "rows": _rows(out / "home" / "warehouse" / uid),
    }


@contextmanager
def running_server(home: Path, obj: S3Object, settings: dict[str, str] | None = None) -> Any:
    """``datawharf serve`` on a free port with an admin key and the bench server allowed."""
    import httpx

    sys.path.insert(0, str(REPO))
    from tests.support.processes import free_port, wait_until_answers

    port = free_port()
    env = _environment(home, allowed=obj.host_port)
    env.update({"DATAWHARF_PORT": str(port), "DATAWHARF_BOOTSTRAP_API_KEY": ADMIN_KEY, **(settings or {})})
    home.mkdir(parents=True, exist_ok=True)
    with (home / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, ",".join(ABSENT), "serve"], env=env, cwd=REPO, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{base}/openapi.json", process, timeout=180)
        headers = {"Authorization": f"apikey {ADMIN_KEY}"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as http:
            http.pid = process.pid  # type: ignore[attr-defined]  # for the server's CPU seconds
            yield http
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ok(response: Any) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()


def api_connection(http: Any, obj: S3Object) -> str:
    return _ok(http.post(f"{API}/datasource_connections/", json=_sigv4(obj)))["uid"]


def api_run(http: Any, obj: S3Object, connection: str) -> dict[str, Any]:
    """From the first POST to the version served by Explore, through a running ``datawharf serve``."""
    datasource = {"type": "amazon_s3", "url": obj.key, "connection": {"uid": connection}}
    cpu = process_cpu(http.pid)
    started = time.perf_counter()
    dataset = _ok(
        http.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": obj.key}}}})
    )
    uid = dataset["uid"]
    guessed = _ok(http.post(f"{API}/datasets/{uid}/resources/preview/", json={"datasource": datasource}))
    resource_body = {
        "type": guessed["type"],
        "title": obj.key,
        "params": guessed["params"],
        "datasource": datasource,
    }
    _ok(http.post(f"{API}/datasets/{uid}/resources/", json=resource_body))
    requested = time.perf_counter()
    _ok(http.post(f"{API}/datasets/{uid}/publish/"))
    records = f"/api/explore/v2.1/catalog/datasets/{dataset['dataset_id']}/records"
    while True:
        status = _ok(http.get(f"{API}/datasets/{uid}/status/"))
        if status["status"] == "error":
            raise RuntimeError(f"publish failed: {status}")
        if status["status"] == "idle" and status["version_uid"]:
            served = http.get(records, params={"limit": 0})
            if served.status_code == 200 and served.json()["total_count"] == obj.rows:
                break
        time.sleep(0.02)
    finished = time.perf_counter()
    return {
        "wall_s": finished - started,
        "cpu_s": process_cpu(http.pid) - cpu,  # the server's
        "setup_s": requested - started,
        "rows": obj.rows,
    }


CLI_PATHS = ("datawharf CLI", "datawharf CLI (2 commands)")
PATHS = (*PEERS, *CLI_PATHS, "datawharf API")


def one_path(path: str, obj: S3Object, out: Path, http: Any, connection: str) -> dict[str, Any]:
    if path in PEERS:
        return peer_run(path, obj, out / path)
    if path == "datawharf CLI":
        return cli_run(obj, out / "cli")
    if path == "datawharf CLI (2 commands)":
        return cli_two_run(obj, out / "cli2")
    return api_run(http, obj, connection)


def select(files: dict[str, DataFile], sizes: list[str], formats: list[str]) -> list[DataFile]:
    names = [f"csv-{size}" for size in sizes if "csv" in formats]
    if "csvgz" in formats and DERIVED_SIZE in sizes:
        names.append(f"csvgz-{DERIVED_SIZE}")
    return [files[name] for name in names]


def run(
    data_dir: Path, objects: list[DataFile], runs: int, log: Any = print, startup_runs: int | None = None
) -> dict[str, Any]:
    """Start-up figures (``startup_runs`` of each command, default ``max(runs, 5)``), then every path on
    every object, ``runs`` interleaved rounds."""
    work = data_dir / "_user_paths"  # not a bucket: bucket names have no underscore
    shutil.rmtree(work, ignore_errors=True)
    compileall.compile_dir(REPO / "src", quiet=1)  # as an install is: no start-up below compiles a module
    document: dict[str, Any] = {"startup": startup(work, startup_runs or max(runs, 5)), "objects": {}}
    log(f"start-up: {json.dumps(document['startup'])}")
    with BenchServer(data_dir) as server:
        server.warm(objects)
        s3 = {f.name: server.object(f) for f in objects}
        measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
        with running_server(work / "serve-home", next(iter(s3.values()))) as http:
            connection = api_connection(http, next(iter(s3.values())))
            for round_number in range(runs):
                for data_file in objects:
                    obj = s3[data_file.name]
                    out = work / f"{data_file.name}-{round_number}"
                    for path in PATHS:
                        figure = one_path(path, obj, out, http, connection)
                        if figure["rows"] != data_file.rows:
                            raise RuntimeError(f"{path} on {data_file.name}: {figure['rows']} rows")
                        figure.pop("stdout", None)
                        measured.setdefault((data_file.name, path), []).append(figure)
                        where = f"[{round_number + 1}/{runs}] {data_file.name:14} {path:14}"
                        log(f"{where} {figure['wall_s']:.2f} s, {figure['cpu_s']:.2f} CPU s")
                    shutil.rmtree(out, ignore_errors=True)
    for (name, path), figures in measured.items():
        parts = [key for key in figures[0] if key not in ("wall_s", "cpu_s", "rows")]
        extra = {key: statistics.median(f[key] for f in figures) for key in parts}
        document["objects"].setdefault(name, {})[path] = _summary(figures, **extra)
    for per_object in document["objects"].values():
        best = min(PEERS, key=lambda tool: per_object[tool]["wall_s"])
        per_object["ratios"] = {
            "best_peer": best,
            **{
                f"{path} / best peer": per_object[best]["wall_s"] / per_object[path]["wall_s"]
                for path in (*CLI_PATHS, "datawharf API")
            },
        }
    shutil.rmtree(work, ignore_errors=True)
    return document


def markdown(document: dict[str, Any]) -> str:
    lines = ["| command | wall (median) | CPU s |", "|---|---:|---:|"]
    for name, figure in document["startup"].items():
        lines.append(f"| `{name}` | {figure['wall_s']:.3f} s | {figure['cpu_s']:.3f} |")
    lines += [
        "",
        "| object | polars | DuckDB | datawharf CLI (`create --publish --wait`) | datawharf CLI (`create`, "
        "then `publish --wait`) | datawharf API (POST to served) | CLI / best peer | 2 commands / best peer "
        "| API / best peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, per_object in document["objects"].items():
        cells = [
            f"{per_object[path]['wall_s']:.2f} s · {per_object[path]['cpu_s']:.1f} CPU s" for path in PATHS
        ]
        ratios = [
            f"{per_object['ratios'][f'{path} / best peer']:.2f}" for path in (*CLI_PATHS, "datawharf API")
        ]
        lines.append(f"| {name} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["256MiB", "1GiB"])
    parser.add_argument("--formats", nargs="+", choices=("csv", "csvgz"), default=["csv", "csvgz"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    files = ensure_data(args.data_dir, args.seed, {s: SIZES[s] for s in args.sizes}, log=True)
    document = run(args.data_dir, select(files, args.sizes, args.formats), args.runs)
    document = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.user_paths " + " ".join(argv if argv is not None else sys.argv[1:]),
        "runs": args.runs,
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **document,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(document))


if __name__ == "__main__":
    main()
