"""Tables from a results file: Rich for the terminal, Markdown for the README.

python -m bench.report [bench/results/latest.json] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.datawharf_contenders import TOOL as DATAWHARF
from bench.measure import TYPE_CHECKS

PEER_TOOLS = ["duckdb", "pyarrow", "polars", "pandas"]
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "latest.json"
MiB = 1024 * 1024
NOT_YET = "not yet"


def _best_peer(by_tool: dict[str, Any], figure: str, higher_is_better: bool) -> tuple[str, float] | None:
    scored = [(tool, s[figure]) for tool, s in by_tool.items() if tool in PEER_TOOLS and s.get(figure)]
    if not scored:
        return None
    return (max if higher_is_better else min)(scored, key=lambda pair: pair[1])


def ratios(object_results: dict[str, Any]) -> dict[str, Any]:
    """datawharf against the best peer and the transport ceiling, for one object.

    Import: throughput ratios (above 1 means datawharf is faster). Preview: latency and bytes-fetched
    ratios (below 1 means datawharf is quicker, or fetches less). ``None`` while datawharf has no figure.
    """
    imports = object_results.get("import", {})
    previews = object_results.get("preview", {})
    transport = object_results.get("transport", {}).get("mib_s")
    best_import = _best_peer(imports, "mib_s", higher_is_better=True)
    best_preview = _best_peer(previews, "wall_s", higher_is_better=False)
    least_fetched = _best_peer(previews, "bytes_fetched", higher_is_better=False)
    ours_import = imports.get(DATAWHARF, {}).get("mib_s")
    ours_preview = previews.get(DATAWHARF, {})

    def divide(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    return {
        "import": {
            "best_peer": best_import[0] if best_import else None,
            "best_peer_mib_s": best_import[1] if best_import else None,
            "transport_mib_s": transport,
            "peers_vs_transport": divide(best_import[1] if best_import else None, transport),
            "datawharf_vs_best_peer": divide(ours_import, best_import[1] if best_import else None),
            "datawharf_vs_transport": divide(ours_import, transport),
        },
        "preview": {
            "best_peer": best_preview[0] if best_preview else None,
            "best_peer_s": best_preview[1] if best_preview else None,
            "least_fetching_peer": least_fetched[0] if least_fetched else None,
            "datawharf_vs_best_peer_latency": divide(
                ours_preview.get("wall_s"), best_preview[1] if best_preview else None
            ),
            "datawharf_vs_least_fetched": divide(
                ours_preview.get("bytes_fetched"), least_fetched[1] if least_fetched else None
            ),
        },
    }


def _tools(results: dict[str, Any]) -> list[str]:
    return [*PEER_TOOLS, DATAWHARF]


def _import_cell(summary: dict[str, Any] | None, tool: str) -> str:
    if not summary:
        return NOT_YET if tool == DATAWHARF else "—"
    if "error" in summary:
        return "failed"
    rows = "" if summary.get("rows_ok", True) else " ROWS!"
    inside = ""
    if summary.get("content_mib_s") and abs(summary["content_mib_s"] - summary["mib_s"]) > 0.5:
        inside = f" ({summary['content_mib_s']:.0f} inside)"
    return f"{summary['mib_s']:.0f} MiB/s{inside} · {summary['peak_rss_mb']:.0f} MB{rows}"


def _preview_cell(summary: dict[str, Any] | None, tool: str) -> str:
    if not summary:
        return NOT_YET if tool == DATAWHARF else "—"
    if "error" in summary:
        return "failed"
    return f"{summary['wall_s'] * 1000:.0f} ms · {summary['mib_fetched']:.2f} MiB"


def _ratio(value: float | None) -> str:
    return NOT_YET if value is None else f"{value:.2f}"


def rows(results: dict[str, Any]) -> dict[str, list[list[str]]]:
    """The three tables as header + rows of text, shared by the Rich and the Markdown renderings."""
    tools = _tools(results)
    imports = [
        ["object", "size", "transport", *tools, "best peer / transport", "dw / best peer", "dw / transport"]
    ]
    previews = [["object", *tools, "dw / fastest peer (latency)", "dw / least-fetching peer (bytes)"]]
    for name, per_task in results["results"].items():
        obj = results["objects"][name]
        size = f"{obj['bytes'] / MiB:.0f} MiB"
        if obj["content_bytes"] != obj["bytes"]:
            size += f" ({obj['content_bytes'] / MiB:.0f} MiB inside)"
        ratio = results["ratios"][name]
        transport = per_task.get("transport", {})
        transport_cell = f"{transport['mib_s']:.0f} MiB/s" if transport.get("mib_s") else "—"
        imports.append(
            [
                name,
                size,
                transport_cell,
                *(_import_cell(per_task.get("import", {}).get(tool), tool) for tool in tools),
                _ratio(ratio["import"]["peers_vs_transport"]),
                _ratio(ratio["import"]["datawharf_vs_best_peer"]),
                _ratio(ratio["import"]["datawharf_vs_transport"]),
            ]
        )
        previews.append(
            [
                name,
                *(_preview_cell(per_task.get("preview", {}).get(tool), tool) for tool in tools),
                _ratio(ratio["preview"]["datawharf_vs_best_peer_latency"]),
                _ratio(ratio["preview"]["datawharf_vs_least_fetched"]),
            ]
        )
    types = [
        ["tool (import of " + _types_source(results) + ")", "code_postal", "date_ouverture", "derniere_maj"]
    ]
    source = results["results"].get(_types_source(results), {}).get("import", {})
    for tool in tools:
        summary = source.get(tool)
        if not summary or "types" not in summary:
            types.append([tool, *([NOT_YET if tool == DATAWHARF else "—"] * 3)])
            continue
        types.append(
            [
                tool,
                *(_type_cell(summary, column) for column in TYPE_CHECKS),
            ]
        )
    return {"import": imports, "preview": previews, "types": types}


def _type_cell(summary: dict[str, Any], column: str) -> str:
    mark = "✓" if summary["types_right"][column] else "✗"
    return f"{mark} {summary['types'].get(column, 'missing')}"


def _types_source(results: dict[str, Any]) -> str:
    csv_names = [name for name in results["results"] if name.startswith("csv-")]
    return max(csv_names, key=lambda name: results["objects"][name]["bytes"]) if csv_names else ""


TITLES = {
    "import": "Import into Parquet: MiB/s of the source object · peak RSS (median of {runs})",
    "preview": "Preview, first 20 records: latency · MiB fetched from the server (median of {runs})",
    "types": "Types right? (✓ = postal code stays text, date is a date, datetime a timestamp)",
}


def print_tables(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    for key, table_rows in rows(results).items():
        table = Table(title=TITLES[key].format(runs=results["runs"]), title_justify="left")
        for header in table_rows[0]:
            table.add_column(header, overflow="fold")
        for row in table_rows[1:]:
            table.add_row(*row)
        console.print(table)


def markdown(results: dict[str, Any]) -> str:
    out = []
    for key, table_rows in rows(results).items():
        out.append(f"**{TITLES[key].format(runs=results['runs'])}**\n")
        out.append("| " + " | ".join(table_rows[0]) + " |")
        out.append("|" + "---|" * len(table_rows[0]))
        out.extend("| " + " | ".join(row) + " |" for row in table_rows[1:])
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", nargs="?", type=Path, default=RESULTS_PATH)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    results = json.loads(args.path.read_text())
    if args.markdown:
        print(markdown(results))
    else:
        print_tables(results)


if __name__ == "__main__":
    main()
