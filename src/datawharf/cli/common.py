"""What every command shares: the consoles, and errors printed as a person reads them (the database is
``cli/database.py``: a command that does not open it does not import SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from datawharf.errors import DatawharfError
from datawharf.settings import Settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn datawharf errors into ``error [code]: message`` on stderr and exit code 1, no traceback.

    A setting that does not validate is ``invalid_setting``, one line per setting, with the rule broken
    but never the value (it may be a secret, e.g. a mistyped ``DATAWHARF_SECRET_KEY``).
    """

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DatawharfError as exc:
            _print_error(exc.error_code, exc.message)
            raise typer.Exit(1) from None
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise
            for error in exc.errors(include_input=False, include_url=False):
                names = ", ".join(f"DATAWHARF_{str(part).upper()}" for part in error["loc"][:1])
                rule = error["msg"].removeprefix("Value error, ")
                _print_error("invalid_setting", f"{names}: {rule}" if names else rule)
            raise typer.Exit(1) from None

    return wrapper


def _print_error(code: str, message: str) -> None:
    err_console.print(f"[bold red]error[/] {escape(f'[{code}]')}: {escape(message)}", highlight=False)
