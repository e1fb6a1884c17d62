"""docs/explore.md documents every error code the Explore API, the exports and the query engine raise."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "src/datawharf/explore").glob("*.py")),
    *sorted((ROOT / "src/datawharf/exports").rglob("*.py")),
    ROOT / "src/datawharf/store/query_engine.py",
    ROOT / "src/datawharf/api/explore.py",
]
CODE = re.compile(r'(?:error_code=|default_code = )"([a-z_]+)"')


def test_every_error_code_is_documented() -> None:
    codes = {code for path in SOURCES for code in CODE.findall(path.read_text())}
    assert len(codes) >= 9  # the scan found the codes
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", (ROOT / "docs/explore.md").read_text(), re.MULTILINE))
    assert sorted(codes - documented) == [], "add these to docs/explore.md"
