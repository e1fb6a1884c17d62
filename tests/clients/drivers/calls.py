"""The outcome of each call a driver makes, written as JSON for the test that runs the driver.

Runs in the clients' interpreter (``.venv-clients``), not datawharf's: it imports only the standard library.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Calls:
    def __init__(self) -> None:
        self.plan: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
        self.outcomes: dict[str, dict[str, Any]] = {}

    def run(self, name: str, call: Callable[[], Any]) -> Any:
        """Call, keep the value (made JSON: a DataFrame becomes records) or the client's error."""
        try:
            value = call()
        except BaseException as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            self.outcomes[name] = {
                "value": None,
                "error": f"{type(error).__name__}: {error} (at {Path(last.filename).name}:{last.lineno})",
            }
            return None
        self.outcomes[name] = {"value": jsonable(value), "error": None}
        return value

    def write(self) -> None:
        Path(self.plan["outcomes"]).write_text(json.dumps(self.outcomes, default=str))


def jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return {
            "columns": [str(column) for column in value.columns],
            "dtypes": {str(column): str(dtype) for column, dtype in value.dtypes.items()},
            "records": json.loads(value.to_json(orient="records", date_format="iso")),
        }
    if hasattr(value, "model_dump"):  # a Pydantic model
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {name: jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    return value
