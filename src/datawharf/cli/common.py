"""What every command shares: the settings, a migrated database, and errors printed as a person reads them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from datawharf.errors import DatawharfError
from datawharf.settings import Settings
from datawharf.store.db import Database, open_database

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def database() -> Iterator[Database]:
    db = open_database(Settings())
    try:
        yield db
    finally:
        db.dispose()


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn datawharf errors into ``error [code]: message`` on stderr and exit code 1, no traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DatawharfError as exc:
            err_console.print(
                f"[bold red]error[/] {escape(f'[{exc.error_code}]')}: {escape(exc.message)}", highlight=False
            )
            raise typer.Exit(1) from None

    return wrapper
