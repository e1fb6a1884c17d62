"""The shape every delete command shares: confirm, then delete through the server or on the home."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from datawharf.cli.common import server

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from datawharf.cli.remote import Server


def delete_confirmed(
    question: str,
    yes: bool,
    remote_path: Callable[[Server], str],
    on_home: Callable[[Session], None],
) -> None:
    """What every delete command does: ask ``question`` (unless ``--yes``), then DELETE
    ``remote_path(server)`` on the server the command talks to, or run ``on_home`` in a session of the
    home's database."""
    if not yes:
        typer.confirm(question, abort=True)
    remote = server()
    if remote is not None:
        remote.call("DELETE", remote_path(remote))
        return
    from datawharf.cli.database import database  # SQLAlchemy: only when the home is used

    with database() as db, db.session() as session:
        on_home(session)
