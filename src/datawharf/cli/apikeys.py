"""``datawharf apikeys create|list|revoke``, on the home or through a server's ``/apikeys/`` routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from datawharf import apikeys
from datawharf.cli.common import console, friendly_errors, server
from datawharf.cli.database import database

app = typer.Typer(help="Manage API keys (the clear key is shown once, at creation).", no_args_is_help=True)

PERMISSION_HELP = (
    f"A permission to give: {', '.join(apikeys.PERMISSIONS)}. Repeat for each; default: every one (admin)."
)


def _minute(value: datetime | str | None) -> str:
    if value is None:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.strftime("%Y-%m-%d %H:%M")


@app.command("create")
@friendly_errors
def create(
    label: str = typer.Option(..., "--label", help="What the key is for."),
    permission: list[str] = typer.Option(None, "--permission", "-p", metavar="NAME", help=PERMISSION_HELP),
) -> None:
    """Create a key and print it once."""
    permissions = permission or apikeys.ADMIN_PERMISSIONS
    remote = server()
    if remote is not None:
        body = remote.call("POST", "/apikeys/", json={"label": label, "permissions": permissions})
        uid, key = body["uid"], body["key"]
    else:
        with database() as db, db.session() as session:
            created = apikeys.create_key(session, label, permissions)
            uid, key = created.api_key.uid, created.key
    console.print(f"Created API key {uid}. It is shown only now; store it safely:")
    console.print(key, highlight=False, soft_wrap=True)


@app.command("list")
@friendly_errors
def list_() -> None:
    """List keys (never their values; the hint, the key's first characters, on the home only)."""
    table = Table("uid", "label", "hint", "permissions", "created", "revoked")
    rows: list[tuple[str, str, str, list[str], Any, Any]] = []
    remote = server()
    if remote is not None:
        for body in remote.every("/apikeys/"):
            revoked = body["revocation_status"]["revoked_at"]
            rows.append((body["uid"], body["label"], "", body["permissions"], body["created_at"], revoked))
    else:
        with database() as db, db.session() as session:
            _total, keys = apikeys.list_keys(session, limit=1000, offset=0)
            for key in keys:
                hint = key.key_hint + "…"
                rows.append((key.uid, key.label, hint, key.permissions, key.created_at, key.revoked_at))
    for uid, label, hint, permissions, created, revoked in rows:
        table.add_row(uid, label, hint, ", ".join(permissions), _minute(created), _minute(revoked))
    console.print(table)


@app.command("revoke")
@friendly_errors
def revoke(uid: str, reason: str = typer.Option(None, "--reason")) -> None:
    """Revoke a key: it stops working at once."""
    remote = server()
    if remote is not None:
        remote.call("POST", f"/apikeys/{uid}/revoke/", json={"revocation_reason": reason})
    else:
        with database() as db, db.session() as session:
            apikeys.revoke_key(session, uid, reason)
    console.print(f"Revoked {uid}.")
