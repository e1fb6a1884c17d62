"""Every public function of portalkit 0.1.1 that reads an Opendatasoft portal, against datawharf.

portalkit speaks the Explore API v2.1 (``/api/explore/v2.1/catalog/...``: records pages up to the offset
cap, ``exports/json`` beyond or without a limit). ``plan``: the portal URL and the dataset ids; a
``PORTALKIT_CATALOG`` file (written here) names the cities dataset ``local/cities`` for ``pk.load``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import portalkit as pk
from calls import Calls
from portalkit import cli

calls = Calls()
plan = calls.plan
url, cities, bikes = plan["url"], plan["cities"], plan["bikes"]
folder = Path(plan["outcomes"]).parent
catalog = folder / "catalog.toml"
catalog.write_text(f'[dataset."local/cities"]\nportal = "{url}"\ndataset = "{cities}"\ntitle = "Cities"\n')
os.environ["PORTALKIT_CATALOG"] = str(catalog)
os.environ["PORTALKIT_CACHE"] = str(folder / "cache")


def run_cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    if code != 0:
        raise RuntimeError(f"portalkit {' '.join(argv)} exited with {code}: {out.getvalue()}")
    return out.getvalue()


portal = calls.run("open_detects", lambda: pk.open(url))
calls.run("open_detects_kind", lambda: portal.name)
explicit = pk.open(url, kind="opendatasoft")
calls.run("search_all", lambda: explicit.search())
calls.run("search_limit", lambda: explicit.search(limit=1))
calls.run("search_query", lambda: explicit.search("bike"))
calls.run("module_search", lambda: pk.search(url, "cities", kind="opendatasoft"))
calls.run("describe", lambda: explicit.describe(cities))
calls.run("describe_missing", lambda: explicit.describe("no-such-dataset"))
dataset = explicit.dataset(cities)
calls.run("dataset_fields", lambda: dataset.fields)
calls.run("to_pandas_limit", lambda: dataset.to_pandas(limit=25, cache=False))
calls.run(
    "to_pandas_query",
    lambda: dataset.to_pandas(
        where="population > 10000",
        select="id, name, population",
        order="population desc",
        limit=50,
        cache=False,
    ),
)
calls.run("to_pandas_all", lambda: dataset.to_pandas(cache=False))
calls.run("to_pandas_all_where", lambda: dataset.to_pandas(where="city = 'Paris'", cache=False))
calls.run("to_pandas_cached", lambda: dataset.to_pandas(limit=5))
calls.run("to_pandas_cached_again", lambda: dataset.to_pandas(limit=5))
calls.run("to_pandas_refine", lambda: dataset.to_pandas(limit=50, cache=False, refine="city:Lyon"))
calls.run(
    "to_geopandas", lambda: json.loads(explicit.dataset(bikes).to_geopandas(limit=10).to_json(default=str))
)
calls.run("load_catalog_ref", lambda: pk.load("local/cities", limit=3, cache=False))
calls.run(
    "cli_search", lambda: json.loads(run_cli("search", url, "bike", "--json", "--kind", "opendatasoft"))
)
calls.run("cli_info", lambda: json.loads(run_cli("info", url, "--dataset", cities, "--json")))
calls.run(
    "cli_get_csv", lambda: run_cli("get", url, "--dataset", cities, "--no-cache", "-o", str(folder / "c.csv"))
)
calls.run("cli_get_csv_file", lambda: (folder / "c.csv").read_text())
calls.run(
    "cli_get_geojson",
    lambda: run_cli("get", url, "--dataset", bikes, "--limit", "10", "-o", str(folder / "b.geojson")),
)
calls.run("cli_get_geojson_file", lambda: json.loads((folder / "b.geojson").read_text()))
calls.run("cli_catalog", lambda: run_cli("catalog", "local/"))
calls.run("cli_clear_cache", lambda: run_cli("clear-cache"))
calls.write()
