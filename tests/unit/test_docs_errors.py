"""Every error code datawharf can answer with is documented (docs/errors.md, or the page of its area)."""

from __future__ import annotations

import re
from pathlib import Path

from datawharf.api.errors import _HTTP_CODES
from datawharf.odsql.errors import Code

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "src" / "datawharf").rglob("*.py"))
# error_code="x" (raised), default_code = "x" (a class's code), "error_code": "x" (a body built by hand),
# and the S3 translation table's Rule("x", ...).
CODE = re.compile(r'(?:error_code=|default_code = |"error_code": |Rule\(\s*)"([a-z][a-z0-9_]*)"')


def _codes() -> set[str]:
    codes = set(_HTTP_CODES.values()) | {"http_error"} | {code.value for code in Code}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        codes.update(CODE.findall(text))
    return codes


def test_every_error_code_in_src_is_documented() -> None:
    codes = _codes()
    assert {"malformed_url", "unknown_access_key", "validation_error", "internal_error"} <= codes
    assert len(codes) > 150  # the scan reached every area
    documented = "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md")))
    missing = sorted(code for code in codes if f"`{code}`" not in documented)
    assert missing == [], f"add these to docs/errors.md (or their area's page): {missing}"


def test_errors_page_links_the_area_pages() -> None:
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for target in ("formats.md#error-codes", "odsql.md#errors", "explore.md#error-codes"):
        assert f"]({target})" in page
