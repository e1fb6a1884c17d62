"""``datawharf serve``: the HTTP APIs and the backoffice on the configured host and port."""

from __future__ import annotations

import typer
import uvicorn

from datawharf import apikeys
from datawharf.api.app import create_app
from datawharf.cli.common import console, friendly_errors
from datawharf.settings import Settings
from datawharf.store.db import open_database


def _first_key_if_empty(settings: Settings) -> str | None:
    """On an install with no live key and no bootstrap key, create an admin key (printed once)."""
    if settings.bootstrap_api_key is not None:
        return None
    database = open_database(settings)
    try:
        with database.session() as session:
            if apikeys.count_live_keys(session):
                return None
            return apikeys.create_key(session, "first admin key", apikeys.ADMIN_PERMISSIONS).key
    finally:
        database.dispose()


@friendly_errors
def serve(
    host: str = typer.Option(None, help="Overrides DATAWHARF_HOST."),
    port: int = typer.Option(None, help="Overrides DATAWHARF_PORT."),
) -> None:
    """Start the service on the embedded defaults (SQLite + local warehouse) or the configured ones."""
    settings = Settings()
    first_key = _first_key_if_empty(settings)
    if first_key:
        console.print("[bold]An admin API key was created. It is shown only now; store it safely:[/]")
        console.print(first_key, highlight=False, soft_wrap=True)
        console.print("Use it as:  curl -H 'Authorization: apikey <key>' ...", highlight=False)
    bind_host, bind_port = host or settings.host, port or settings.port
    base_url = f"http://{bind_host}:{bind_port}"
    console.print(f"datawharf on {base_url}/  (data in {settings.home})", highlight=False)
    console.print(f"  backoffice:      {base_url}/backoffice/", highlight=False)
    console.print(f"  management API:  {base_url}/api/automation/v1.0/", highlight=False)
    console.print(f"  Explore API:     {base_url}/api/explore/v2.1/", highlight=False)
    console.print(f"  OpenAPI:         {base_url}/openapi.json", highlight=False)
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="info")
