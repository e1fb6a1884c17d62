"""docs/settings.md documents every setting, as Datasette's docs tests do for its settings."""

from __future__ import annotations

from pathlib import Path

from datawharf.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_has_a_row_in_the_docs() -> None:
    documented = DOCS.read_text()
    missing = [name for name in Settings.model_fields if f"`DATAWHARF_{name.upper()}`" not in documented]
    assert missing == [], f"add these to docs/settings.md: {missing}"
