"""The coverage tables of docs/explore.md name every path, parameter and export format of Opendatasoft's
Explore v2.1 OpenAPI and every ODSQL function of its documentation (the facts kept offline in
tests/data/explore-v2.1-surface.json), once each, and say why for every "no"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SURFACE = json.loads((ROOT / "tests" / "data" / "explore-v2.1-surface.json").read_text())
DOC = (ROOT / "docs" / "explore.md").read_text()
SECTION = DOC.split("## Coverage of the Explore API v2.1", 1)[1].split("\n## ", 1)[0]


def table(header: str) -> list[list[str]]:
    """The rows of the section's table whose header row starts with ``| header |``, cells unquoted."""
    lines = SECTION.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


ENDPOINTS = table("endpoint")
FORMATS = table("export format")
FUNCTIONS = table("ODSQL function")


def test_every_path_and_each_of_its_parameters_has_one_row() -> None:
    listed = [(endpoint, parameter) for endpoint, parameter, *_ in ENDPOINTS]
    assert len(listed) == len(set(listed)), "a row is repeated"
    expected = {(path, "—") for path in SURFACE["paths"]}  # the endpoint itself
    expected |= {(path, name) for path, names in SURFACE["paths"].items() for name in names}
    assert expected - set(listed) == set(), "parameters of the OpenAPI missing from docs/explore.md"
    assert set(listed) - expected == set(), "rows for parameters the OpenAPI does not have"


def test_every_export_format_has_one_row_per_endpoint() -> None:
    listed = sorted((endpoint, name) for name, endpoint, *_ in FORMATS)
    expected = sorted(
        [("dataset", f) for f in SURFACE["dataset_export_formats"]]
        + [("catalog", f) for f in SURFACE["catalog_export_formats"]]
    )
    assert listed == expected


def test_every_odsql_function_has_one_row() -> None:
    assert sorted(name for name, *_ in FUNCTIONS) == sorted(SURFACE["odsql_functions"])


@pytest.mark.parametrize("rows", [ENDPOINTS, FORMATS, FUNCTIONS], ids=["endpoints", "formats", "functions"])
def test_every_no_says_why(rows: list[list[str]]) -> None:
    for row in rows:
        supported, notes = row[-2], row[-1]
        assert supported in ("yes", "no"), row
        if supported == "no":
            assert len(notes) > 15, f"no reason given: {row}"
