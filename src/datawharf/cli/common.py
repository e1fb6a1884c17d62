"""What every command shares: where it works (a home, or a running server), the consoles, and errors
printed as a person reads them (the home's database is ``cli/database.py``: a command that does not open
it does not import SQLAlchemy).

A command works on one of two things, and says which on stderr before it starts:

- a **home** (``DATAWHARF_HOME``, by default ``~/.datawharf``): the command opens that home's database and
  calls the core directly, as ``datawharf serve`` on the same home does;
- a **server** (``--server URL`` or ``DATAWHARF_URL``, with ``DATAWHARF_API_KEY`` or ``--api-key-file``):
  the command calls that server's Automation API over HTTP (``cli/remote.py``), so it works against any
  deployment, with the permissions of the key, whatever the local machine holds.

The line on stderr keeps an empty list from being silent: ``datasets list`` on another home than the
server's says which home it read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from datawharf.errors import DatawharfError, InvalidInput
from datawharf.settings import Settings

if TYPE_CHECKING:
    from datawharf.cli.remote import Server

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

SERVER_ENV = "DATAWHARF_URL"
API_KEY_ENV = "DATAWHARF_API_KEY"


@dataclass
class Target:
    """What the root options chose: a server's base URL and where its key comes from (None: a home)."""

    server_url: str | None = None
    api_key_file: str | None = None
    announced: bool = False  # the one stderr line saying where the command works was printed


def _announce(line: str) -> None:
    """Say once per command where it works (a command may open the database or the server twice)."""
    if not TARGET.announced:
        TARGET.announced = True
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)


TARGET = Target()  # set once by the root callback, before the command runs


def _api_key() -> str:
    """The key for the server: ``--api-key-file`` (``-``: stdin) or ``DATAWHARF_API_KEY``; never argv."""
    if TARGET.api_key_file is not None:
        path = TARGET.api_key_file
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"The API key file {path} could not be read ({type(exc).__name__}): check its path and "
                "permissions (UTF-8 text, the key on its first line).",
                error_code="unreadable_secret_file",
            ) from None
        key = (text.splitlines() or [""])[0].strip()
    else:
        key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise InvalidInput(
            f"--server {TARGET.server_url} needs an API key: set {API_KEY_ENV}, or give --api-key-file "
            "FILE (the key on its first line; '-' reads stdin). 'datawharf serve' printed the first one.",
            error_code="missing_api_key",
        )
    return key


def refuse_api_key_argv() -> None:
    """``--api-key VALUE`` is refused as a connection's secret in argv is (``secret_in_argv``)."""
    raise InvalidInput(
        f"The API key was given on the command line, where every user of this machine can read it (ps, "
        f"/proc) and the shell history keeps it; it was not used. Set {API_KEY_ENV}, or give "
        "--api-key-file FILE ('-': stdin).",
        error_code="secret_in_argv",
    )


def server() -> Server | None:
    """The server the command talks to (its target line printed), or None to work on the home."""
    if not TARGET.server_url:
        return None
    from datawharf.cli.remote import Server  # httpx: only when a server is used

    found = Server(TARGET.server_url, _api_key())
    _announce(f"datawharf: server {found.base_url}")
    return found


def announce_home(settings: Settings) -> None:
    """Name the home on stderr (once), so nobody reads an empty list of the wrong home as "nothing
    there": ``cli/database.py`` calls it, and so does a command that reads the home without it."""
    _announce(f"datawharf: home {settings.home} (set {SERVER_ENV} to use a running server)")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn datawharf errors into ``error [code]: message`` on stderr and exit code 1, no traceback.

    A setting that does not validate is ``invalid_setting``, one line per setting, with the rule broken
    but never the value (it may be a secret, e.g. a mistyped ``DATAWHARF_SECRET_KEY``). A server's error
    body is a ``DatawharfError`` too (``cli/remote.py``), so both modes print alike.
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
