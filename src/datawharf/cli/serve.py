"""``datawharf serve``: the HTTP APIs and the backoffice on the configured host and port."""

from __future__ import annotations

import socket
import ssl

import typer
import uvicorn

from datawharf import apikeys
from datawharf.api.app import create_app
from datawharf.api.protocol import http_protocol
from datawharf.cli.common import console, friendly_errors
from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.db import STARTUP_LOCK, open_database


def _first_key_if_empty(settings: Settings) -> str | None:
    """On an install with no live key and no bootstrap key, create an admin key (printed once).

    Under the start-up lock, committed before it is released: of several processes starting together on
    an empty database, one creates the key and the others then find it."""
    if settings.bootstrap_api_key is not None:
        return None
    database = open_database(settings)
    try:
        with database.exclusive(STARTUP_LOCK), database.session() as session:
            if apikeys.count_live_keys(session):
                return None
            return apikeys.create_key(session, "first admin key", apikeys.ADMIN_PERMISSIONS).key
    finally:
        database.dispose()


def _drop_stalled_connections(sock: socket.socket, seconds: float) -> None:
    """Let the kernel end a connection whose client takes nothing for ``seconds`` (TCP_USER_TIMEOUT, set on
    the listening socket and inherited by each accepted one, covers data waiting behind a zero window).

    The app gives up on a stalled response after ``DATAWHARF_SEND_TIMEOUT`` and frees what it held, but
    the socket would stay open, its unsent bytes buffered, for as long as the client keeps it open.
    """
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(seconds * 1000))


def _tls_files(settings: Settings) -> tuple[str, str] | None:
    """The certificate and key uvicorn serves HTTPS with (None: plain HTTP), once the pair has loaded here.

    Loading it first turns a wrong path or file into a message that names the setting, where uvicorn
    would stop with a traceback. The key must be unencrypted: for an encrypted one OpenSSL would prompt
    on the terminal, and a service has none, so the empty password given here makes it fail instead.
    """
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None or key is None:
        return None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=b"")
    except OSError as exc:
        if not isinstance(exc, ssl.SSLError):
            raise InvalidInput(
                f"DATAWHARF_TLS_CERT_FILE ({cert}) or DATAWHARF_TLS_KEY_FILE ({key}) cannot be read "
                f"({exc.strerror or exc}): check the paths and that this user may read both files.",
                error_code="tls_file_unreadable",
            ) from None
        raise InvalidInput(
            f"DATAWHARF_TLS_CERT_FILE ({cert}) and DATAWHARF_TLS_KEY_FILE ({key}) are not a PEM certificate "
            f"and its private key ({exc.reason or 'not loadable'}): give the certificate (its chain "
            "after it) and the matching key, unencrypted (openssl pkey -in key.pem -out plain.pem).",
            error_code="tls_certificate_invalid",
        ) from None
    return str(cert), str(key)


@friendly_errors
def serve(
    host: str = typer.Option(None, help="Overrides DATAWHARF_HOST."),
    port: int = typer.Option(None, help="Overrides DATAWHARF_PORT."),
) -> None:
    """Start the service on the embedded defaults (SQLite + local warehouse) or the configured ones."""
    settings = Settings()
    tls = _tls_files(settings)  # before a first key is made: a wrong file stops the start
    first_key = _first_key_if_empty(settings)
    if first_key:
        console.print("[bold]An admin API key was created. It is shown only now; store it safely:[/]")
        console.print(first_key, highlight=False, soft_wrap=True)
        console.print("Use it as:  curl -H 'Authorization: apikey <key>' ...", highlight=False)
    bind_host, bind_port = host or settings.host, port or settings.port
    base_url = f"{'https' if tls else 'http'}://{bind_host}:{bind_port}"
    console.print(f"datawharf on {base_url}/  (data in {settings.home})", highlight=False)
    console.print(f"  backoffice:      {base_url}/backoffice/", highlight=False)
    console.print(f"  management API:  {base_url}/api/automation/v1.0/", highlight=False)
    console.print(f"  Explore API:     {base_url}/api/explore/v2.1/", highlight=False)
    console.print(f"  OpenAPI:         {base_url}/openapi.json", highlight=False)
    config = uvicorn.Config(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        log_level="info",
        http=http_protocol(settings),  # bounded request head, JSON refusals
        ssl_certfile=tls and tls[0],
        ssl_keyfile=tls and tls[1],
    )
    listening = config.bind_socket()
    _drop_stalled_connections(listening, settings.send_timeout)
    uvicorn.Server(config).run(sockets=[listening])
