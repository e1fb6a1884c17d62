"""The ``datawharf`` command: a face over the core services, one module a command group.

Each command's module is imported only when that command runs (issue 16): ``datawharf --help`` imports
Typer and Rich and nothing of datawharf's core, ``datawharf datasets list`` the database layer and not
FastAPI, DuckDB or pyarrow. Python spends 2+ s importing all of them, which a user pays on every command.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


def without_flag_metavars(command: Any) -> Any:  # a TyperCommand or TyperGroup
    """Flags (``--wait``, ``--help``) listed without Typer's ``<bool>``: a flag takes no value, and the
    type column made them read as ``--wait <bool>``. Walks a group's commands; ``get_help_option`` makes
    and caches each command's ``--help`` so it can be changed as well."""
    for param in [*command.params, command.get_help_option(typer.Context(command))]:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        without_flag_metavars(sub)
    return command


@dataclass(frozen=True)
class LazyCommand:
    """A command known by name and help until it runs: ``target`` is ``module:attribute``, a Typer app
    (a command group) or a command function."""

    target: str
    help: str

    def load(self, name: str) -> Any:  # a click Command (TyperCommand or TyperGroup)
        """The real command, built as ``add_typer``/``command`` on the root would have built it."""
        module_name, attribute = self.target.split(":")
        found = getattr(importlib.import_module(module_name), attribute)
        root = typer.Typer(add_completion=False)
        if isinstance(found, typer.Typer):
            root.add_typer(found, name=name)
        else:
            root.command(name)(found)
        return without_flag_metavars(typer.main.get_group(root).commands[name])


COMMANDS = {
    "serve": LazyCommand("datawharf.cli.serve:serve", "Start the service"),
    "worker": LazyCommand("datawharf.cli.worker:worker", "Run queued publishes (Procrastinate)"),
    "preview": LazyCommand("datawharf.cli.preview:preview", "Preview the first 20 records of a file in S3"),
    "apikeys": LazyCommand("datawharf.cli.apikeys:app", "Manage API keys"),
    "connections": LazyCommand("datawharf.cli.connections:app", "Manage Amazon S3 connections"),
    "datasets": LazyCommand("datawharf.cli.datasets:app", "Create, publish and inspect datasets"),
    "harvesters": LazyCommand(
        "datawharf.cli.harvesters:app", "Harvest an S3 prefix: one dataset per object or folder"
    ),
}


class LazyGroup(TyperGroup):
    """A group that lists its commands from ``table`` and imports one only to run it (or to show its own
    ``--help``). While it prints its own help, ``get_command`` hands out placeholders. The top level is
    one (``COMMANDS``), ``datawharf datasets`` another (``cli/datasets.py``)."""

    table: ClassVar[dict[str, LazyCommand]] = COMMANDS

    def __init__(self, **attrs: object) -> None:
        super().__init__(**attrs)  # type: ignore[arg-type]
        self._describing = False
        # Placeholders keep Typer's listing and its "Did you mean ...?" suggestions working unloaded.
        self.commands = {name: TyperCommand(name, help=lazy.help) for name, lazy in self.table.items()}
        self._loaded: dict[str, Any] = {}
        without_flag_metavars(self)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # click's Context and Command
        lazy = self.table.get(cmd_name)
        if lazy is None or self._describing:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = lazy.load(cmd_name)
        return self._loaded[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click's Context and HelpFormatter
        self._describing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._describing = False


app = typer.Typer(
    name="datawharf",
    cls=LazyGroup,
    help="Files in S3-compatible storage become published, queryable, exportable datasets.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(
    server: str = typer.Option(
        None,
        "--server",
        envvar="DATAWHARF_URL",
        metavar="URL",
        help="Work through this running datawharf's API (e.g. http://127.0.0.1:8000) instead of the local "
        "home (DATAWHARF_HOME); its key from DATAWHARF_API_KEY or --api-key-file.",
    ),
    api_key_file: str = typer.Option(
        None,
        "--api-key-file",
        metavar="FILE",
        help="With --server: read the API key from this file's first line ('-': stdin); otherwise "
        "DATAWHARF_API_KEY. Never on the command line, where 'ps' shows it.",
    ),
    api_key_argv: str = typer.Option(None, "--api-key", hidden=True),
) -> None:
    """Where the commands work: the local home, or a running server (``cli/common.py`` says why)."""
    from datawharf.cli import common  # settings and pydantic: not for --help

    if api_key_argv is not None:
        common.friendly_errors(common.refuse_api_key_argv)()
    common.TARGET.server_url, common.TARGET.api_key_file = server, api_key_file


def main() -> None:
    app()
