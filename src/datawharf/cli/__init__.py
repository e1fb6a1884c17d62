"""The ``datawharf`` command: a face over the core services, one module a command group."""

from __future__ import annotations

import sys

import typer

from datawharf.cli import apikeys, connections, datasets, preview, serve
from datawharf.extract.xls import preload_in_children

app = typer.Typer(
    name="datawharf",
    help="Files in S3-compatible storage become published, queryable, exportable datasets.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("preview")(preview.preview)
app.add_typer(apikeys.app, name="apikeys")
app.add_typer(connections.app, name="connections")
app.add_typer(datasets.app, name="datasets")


def main() -> None:
    # Run as a console script, each spreadsheet-reading child runs the script again: with the CLI
    # preloaded in their forkserver, that is free (``python -m datawharf`` has a spec and is not re-run).
    if getattr(sys.modules["__main__"], "__spec__", None) is None:
        preload_in_children("datawharf.cli")
    app()
