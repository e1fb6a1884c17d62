"""``datawharf apikeys create|list|revoke``."""

from __future__ import annotations

import typer
from rich.table import Table

from datawharf import apikeys
from datawharf.cli.common import console, friendly_errors
from datawharf.cli.database import database

app = typer.Typer(help="Manage API keys (the clear key is shown once, at creation).", no_args_is_help=True)


@app.command("create")
@friendly_errors
def create(
    label: str = typer.Option(..., "--label", help="What the key is for."),
    permission: list[str] = typer.Option(
        None, "--permission", "-p", help="Repeat for each; default: every permission (admin)."
    ),
) -> None:
    """Create a key and print it once."""
    with database() as db, db.session() as session:
        created = apikeys.create_key(session, label, permission or apikeys.ADMIN_PERMISSIONS)
        uid = created.api_key.uid
    console.print(f"Created API key {uid}. It is shown only now; store it safely:")
    console.print(created.key, highlight=False, soft_wrap=True)


@app.command("list")
@friendly_errors
def list_() -> None:
    """List keys (never their values)."""
    table = Table("uid", "label", "hint", "permissions", "created", "revoked")
    with database() as db, db.session() as session:
        _total, keys = apikeys.list_keys(session, limit=1000, offset=0)
        for key in keys:
            table.add_row(
                key.uid,
                key.label,
                key.key_hint + "…",
                ", ".join(key.permissions),
                key.created_at.strftime("%Y-%m-%d %H:%M"),
                key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "",
            )
    console.print(table)


@app.command("revoke")
@friendly_errors
def revoke(uid: str, reason: str = typer.Option(None, "--reason")) -> None:
    """Revoke a key: it stops working at once."""
    with database() as db, db.session() as session:
        apikeys.revoke_key(session, uid, reason)
    console.print(f"Revoked {uid}.")
