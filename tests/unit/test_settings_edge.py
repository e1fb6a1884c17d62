"""The edge settings: CORS origins as browsers send them, the TLS pair together or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from datawharf.settings import Settings


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("*", ["*"]),
        (
            "https://Maps.Example.org/, http://localhost:3000",
            ["https://maps.example.org", "http://localhost:3000"],
        ),
        ("", []),
    ],
)
def test_cors_origins_are_read_as_browsers_send_them(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("DATAWHARF_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins


def test_cors_is_open_to_every_origin_by_default(tmp_path: Path) -> None:
    assert Settings(home=tmp_path).cors_origins == ["*"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("maps.example.org", "'maps.example.org' is not an origin: write scheme://host[:port]"),
        ("https://example.org/widgets", "is not an origin"),
        ("ftp://example.org", "is not an origin"),
        ("*, https://example.org", "'*' allows every origin: give it alone"),
    ],
)
def test_a_malformed_origin_is_refused_with_the_rule(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("DATAWHARF_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match=says.replace("*", r"\*").replace("[", r"\[")):
        Settings()


@pytest.mark.parametrize("given", ["tls_cert_file", "tls_key_file"])
def test_a_tls_file_without_the_other_is_refused(tmp_path: Path, given: str) -> None:
    with pytest.raises(
        ValidationError, match="DATAWHARF_TLS_CERT_FILE and DATAWHARF_TLS_KEY_FILE go together"
    ):
        Settings(home=tmp_path, **{given: tmp_path / "x.pem"})
