"""An API key given as ``?apikey=`` never reaches the server's access log (a real ``datawharf serve``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from datawharf.api.logsafety import REDACTED, redact_api_keys
from tests.support.processes import datawharf_serve, serve_log, stop

KEY = "logsafety-bootstrap-key-0123456789abcdef"


def test_access_log_shows_the_request_but_not_the_key(tmp_path: Path) -> None:
    with datawharf_serve(tmp_path, {"DATAWHARF_BOOTSTRAP_API_KEY": KEY}) as (base_url, process):
        catalog = httpx.get(f"{base_url}/api/explore/v2.1/catalog/datasets?limit=5&apikey={KEY}")
        encoded_name = httpx.get(f"{base_url}/api/automation/v1.0/apikeys/?%61pikey={KEY}")
        wrong = httpx.get(f"{base_url}/api/automation/v1.0/apikeys/?apikey=wrong-key-typed-by-mistake")
        stop(process)
    assert (catalog.status_code, encoded_name.status_code, wrong.status_code) == (200, 200, 401)
    log = serve_log(tmp_path).read_text()
    assert KEY not in log and "wrong-key-typed-by-mistake" not in log
    assert f"/api/explore/v2.1/catalog/datasets?limit=5&apikey={REDACTED}" in log
    assert f"/api/automation/v1.0/apikeys/?%61pikey={REDACTED}" in log


# Misspellings of apikey a client may send (and other credential names): all blanked.
MISSPELLINGS = [
    "APIKEY",
    "api_key",
    "api-key",
    "Api-Key",
    "apiKey",
    "api.key",
    "api%5Fkey",
    "%41PI_KEY",
    "%EF%BD%81%EF%BD%90%EF%BD%89%EF%BD%8B%EF%BD%85%EF%BD%99",  # fullwidth "apikey"
    "apikey[]",
    "x-api-key",
    "access_token",
    "token",
    "client_secret",
    "password",
    "auth",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "session_id",
]


@pytest.mark.parametrize("name", MISSPELLINGS)
def test_every_credential_like_name_is_blanked(name: str) -> None:
    assert redact_api_keys(f"/records?limit=1&{name}=s3cr3t&where=x") == (
        f"/records?limit=1&{name}={REDACTED}&where=x"
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/records", "/records"),
        ("/records?", "/records?"),
        ("/records?where=a%3D1&apikey=k1", f"/records?where=a%3D1&apikey={REDACTED}"),
        ("/records?apikey=k1&apikey=k2", f"/records?apikey={REDACTED}&apikey={REDACTED}"),
        ("/records?apikey", f"/records?apikey={REDACTED}"),
        ("/records?api+key=x&myapikey=y", f"/records?api+key={REDACTED}&myapikey={REDACTED}"),
        ("/records?where=a&select=b&limit=1&refine=c", "/records?where=a&select=b&limit=1&refine=c"),
        ("/records?group_by=x&order_by=y&lang=fr", "/records?group_by=x&order_by=y&lang=fr"),
    ],
)
def test_redaction_keeps_every_other_parameter_as_sent(target: str, expected: str) -> None:
    assert redact_api_keys(target) == expected
