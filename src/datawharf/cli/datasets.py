"""``datawharf datasets ...``: the group, listed from a table like the top level (``cli/__init__.py``).
Every subcommand works on the home or through a server (``cli/common.py``).

A subcommand's module is imported only to run it: ``list`` (``cli/dataset_list.py``) reads a SQLite home
with the stdlib, so it skips SQLAlchemy's import; the others are ``cli/dataset_commands.py``.
"""

from __future__ import annotations

from typing import ClassVar

import typer

from datawharf.cli import LazyCommand, LazyGroup

_COMMANDS = "datawharf.cli.dataset_commands"

DATASETS_COMMANDS = {
    "create": LazyCommand(f"{_COMMANDS}:create", "Create a dataset with one resource"),
    "list": LazyCommand("datawharf.cli.dataset_list:list_", "List datasets with their status"),
    "show": LazyCommand(f"{_COMMANDS}:show", "A dataset, its resources and its current fields"),
    "status": LazyCommand(f"{_COMMANDS}:status", "Where the dataset stands"),
    "publish": LazyCommand(f"{_COMMANDS}:publish", "Publish a new version of the dataset"),
    "abort": LazyCommand(f"{_COMMANDS}:abort", "Stop a queued or running publish"),
    "versions": LazyCommand(f"{_COMMANDS}:versions_", "Every published version, newest first"),
    "restore": LazyCommand(f"{_COMMANDS}:restore", "Serve an older version again"),
    "delete-version": LazyCommand(f"{_COMMANDS}:delete_version", "Delete an old version and its files"),
    "delete": LazyCommand(f"{_COMMANDS}:delete", "Delete a dataset, its versions and their files"),
}


class DatasetsGroup(LazyGroup):
    table: ClassVar[dict[str, LazyCommand]] = DATASETS_COMMANDS


app = typer.Typer(
    cls=DatasetsGroup,
    help="Create, publish and inspect datasets.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """The group's own options (none): a callback makes Typer build a group, not a single command."""
