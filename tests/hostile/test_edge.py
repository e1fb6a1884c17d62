"""The HTTP edge under TLS: oversized heads and floods of preflights against an HTTPS ``datawharf serve``.

The bounded protocol runs under asyncio's TLS transport, so the head is counted on decrypted bytes; these
attacks check it still refuses at once, as JSON, with the server's memory unchanged.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest
import trustme

from tests.hostile.conftest import serve_hostile
from tests.support.hostile import EXPLORE, HostileServer, attack
from tests.support.moto import MotoServer


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[HostileServer]:
    folder = tmp_path_factory.mktemp("hostile-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = folder / "fullchain.pem", folder / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    env = {"DATAWHARF_TLS_CERT_FILE": str(cert), "DATAWHARF_TLS_KEY_FILE": str(key)}
    with serve_hostile(folder / "home", moto_server, env, verify=context) as server:
        yield server


def tls_raw(server: HostileServer, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` in 64 KiB pieces over TLS, stopping at a closed connection, and read the answer."""
    assert isinstance(server.verify, ssl.SSLContext)
    host, port = server.base_url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        server.verify.wrap_socket(raw, server_hostname=host) as sock,
    ):
        for start in range(0, len(head), 64 * 1024):
            try:
                sock.sendall(head[start : start + 64 * 1024])
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    status_line, _, rest = b"".join(chunks).partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode().lower().split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), headers, body


OVER_TLS = [
    ("query string of 70 kB", b"GET " + EXPLORE.encode() + b"/catalog/datasets?where=" + b"a" * 70_000
     + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long"),
    ("8 MB of headers", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8_000_000 + b"\r\n\r\n",
     431, "request_headers_too_large"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "head", "status", "code"), OVER_TLS, ids=[case[0] for case in OVER_TLS])
def test_an_oversized_head_over_tls_gets_our_json_error(
    tls_server: HostileServer, name: str, head: bytes, status: int, code: str
) -> None:
    with attack(tls_server, f"tls: {name}", max_seconds=5.0, rss_budget_mib=400) as record:
        answer_status, headers, body = tls_raw(tls_server, head)
        record.notes.update(request_bytes=len(head), status=answer_status)
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error_code"] == code
    assert record.peak_mib - record.rss_before_mib < 8, "the head was buffered instead of refused"


def test_a_flood_of_preflights_costs_nothing(tls_server: HostileServer) -> None:
    """Preflights are answered by the CORS layer before any route, database or query runs."""
    headers = {"Origin": "https://page.example.org", "Access-Control-Request-Method": "GET"}
    with (
        attack(tls_server, "tls: 500 CORS preflights", max_seconds=30.0, rss_budget_mib=400) as record,
        httpx.Client(base_url=tls_server.base_url, verify=tls_server.verify, timeout=10) as client,
    ):
        statuses = {
            client.options(f"{EXPLORE}/catalog/datasets", headers=headers).status_code for _ in range(500)
        }
        record.notes.update(requests=500, statuses=sorted(statuses))
    assert statuses == {200}
    assert record.peak_mib - record.rss_before_mib < 16
