"""docs/odsql.md is complete: every error code and every function has its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawharf.odsql import Code
from datawharf.odsql.generator import FUNCTIONS

DOC = (Path(__file__).parents[2] / "docs" / "odsql.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", list(Code))
def test_every_error_code_is_documented(code: Code) -> None:
    assert f"| `{code.value}` |" in DOC


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC
