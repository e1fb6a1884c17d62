"""The ``datawharf`` command: a face over the core services, one module a command group."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="datawharf",
    help="Files in S3-compatible storage become published, queryable, exportable datasets.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """datawharf: a self-hosted data catalog for files in S3-compatible storage."""


def main() -> None:
    app()
