"""``datawharf serve`` over HTTPS, with a certificate from a CA the test makes (trustme): clients that only
build ``https://`` URLs connect directly, and the edge (bounded request head, JSON refusals) holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from tests.support import reference
from tests.support.app import AUTH, BOOTSTRAP_KEY
from tests.support.processes import datawharf_serve, serve_log
from tests.support.tls import TlsFiles, make_tls_files

EXPLORE = "/api/explore/v2.1"
API = "/api/automation/v1.0"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@dataclass
class TlsServer:
    base_url: str
    home: Path
    files: TlsFiles


@pytest.fixture(scope="module")
def tls_server(tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    home = tmp_path_factory.mktemp("tls-serve") / "home"
    env = {"DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY, **tls_files.env()}
    with datawharf_serve(home, env, verify=tls_files.trusting_context()) as (base_url, _):
        yield TlsServer(base_url, home, tls_files)


def test_the_apis_answer_over_https_verified_against_the_ca(tls_server: TlsServer) -> None:
    assert tls_server.base_url.startswith("https://127.0.0.1:")
    with httpx.Client(base_url=tls_server.base_url, verify=tls_server.files.trusting_context()) as client:
        reference.install(client)
        created = client.post(
            f"{API}/datasets", json={"metadata": {"default": {"title": {"value": "T"}}}}, headers=AUTH
        )
        listed = client.get(f"{API}/datasets/", headers=AUTH)
        catalog = client.get(f"{EXPLORE}/catalog/datasets", headers={"Origin": "https://page.example.org"})
    assert created.status_code == 201, created.text
    assert [dataset["uid"] for dataset in listed.json()["results"]] == [created.json()["uid"]]
    assert catalog.status_code == 200 and catalog.headers["access-control-allow-origin"] == "*"
    assert listed.http_version == "HTTP/1.1"


def test_the_printed_urls_say_https(tls_server: TlsServer) -> None:
    log = serve_log(tls_server.home).read_text()
    port = tls_server.base_url.rsplit(":", 1)[1]
    assert f"datawharf on https://127.0.0.1:{port}/" in log
    assert f"management API:  https://127.0.0.1:{port}/api/automation/v1.0/" in log
    assert f"http://127.0.0.1:{port}" not in log


def test_a_client_not_trusting_the_ca_is_refused_and_plain_http_gets_nothing(tls_server: TlsServer) -> None:
    """It is really TLS with that certificate: the system's trust store does not know the test's CA."""
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_server.base_url}/health")
    with pytest.raises(httpx.TransportError):
        httpx.get(tls_server.base_url.replace("https://", "http://") + "/health", timeout=5.0)


def test_the_backoffice_cookie_is_secure_over_https(tls_server: TlsServer) -> None:
    with httpx.Client(base_url=tls_server.base_url, verify=tls_server.files.trusting_context()) as client:
        page = client.get("/backoffice/sign-in")
    assert page.status_code == 200
    assert "secure" in page.headers["set-cookie"].lower()


def tls_raw_request(server: TlsServer, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` as is over TLS (httpx refuses URLs over 64 kB) and read the answer to the close."""
    host, port = server.base_url.removeprefix("https://").split(":")
    context = server.files.trusting_context()
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    status_line, _, rest = b"".join(chunks).partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode().lower().split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), headers, body


def test_a_70_kb_query_over_tls_still_gets_the_json_414(tls_server: TlsServer) -> None:
    """The bounded protocol runs under the TLS transport: the oversized line is refused as over HTTP."""
    head = (
        b"GET "
        + EXPLORE.encode()
        + b"/catalog/datasets?where="
        + b"a" * 70_000
        + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    status, headers, body = tls_raw_request(tls_server, head)
    assert status == 414
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert httpx.Response(status, content=body).json()["error_code"] == "request_line_too_long"
    with httpx.Client(base_url=tls_server.base_url, verify=tls_server.files.trusting_context()) as client:
        assert client.get("/health").status_code == 200


def run_serve(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``datawharf serve`` expected to stop at once (a wrong TLS setting): its exit code and output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    full_env.update({"DATAWHARF_HOME": str(home), "COLUMNS": "300", **env})
    return subprocess.run(
        [sys.executable, "-m", "datawharf", "serve"], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_wrong_tls_settings_stop_the_start_with_a_clear_error(tls_files: TlsFiles, tmp_path: Path) -> None:
    cases = {
        "invalid_setting": {"DATAWHARF_TLS_CERT_FILE": str(tls_files.cert)},
        "tls_file_unreadable": {**tls_files.env(), "DATAWHARF_TLS_KEY_FILE": str(tmp_path / "missing.pem")},
        "tls_certificate_invalid": {
            "DATAWHARF_TLS_CERT_FILE": str(tls_files.key),
            "DATAWHARF_TLS_KEY_FILE": str(tls_files.cert),
        },
    }
    other_key = tmp_path / "other-key.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other_key))
    cases_mismatch = {**tls_files.env(), "DATAWHARF_TLS_KEY_FILE": str(other_key)}
    for code, env in [*cases.items(), ("tls_certificate_invalid", cases_mismatch)]:
        result = run_serve(tmp_path / "home", env)
        assert result.returncode == 1, (code, result.stdout, result.stderr)
        assert f"error [{code}]" in result.stderr, result.stderr
        assert "DATAWHARF_TLS_" in result.stderr and "Traceback" not in result.stderr
        assert "admin API key" not in result.stdout  # stopped before a first key was made and shown
