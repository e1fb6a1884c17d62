"""What every bench script writes beside its figures: the machine they were measured on, and the JSON
file itself (one place, so the results of all scripts share one shape)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    from datawharf.settings import machine_cores

    return {"cpus": machine_cores(), "python": platform.python_version()}


def write(out: Path | None, result: dict[str, Any]) -> None:
    """``result`` as indented JSON at ``out`` (its folder made); nothing when ``out`` is None."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
