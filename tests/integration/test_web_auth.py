"""Backoffice sign-in, session cookie and CSRF, through the real app (no browser needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datawharf import apikeys
from datawharf.store.db import open_database
from datawharf.store.models import BackofficeSession
from datawharf.web.session import (
    COOKIE_NAME,
    SessionCodec,
    WebSession,
    open_session,
    session_secret,
    signed_in_key_uid,
)
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings


@pytest.fixture
def browser_client(tmp_path: Path) -> Iterator[TestClient]:
    with make_app_client(make_settings(tmp_path / "home")) as client:
        client.headers.pop("Authorization")
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_pages_redirect_to_sign_in_and_back(browser_client: TestClient) -> None:
    response = browser_client.get("/backoffice/connections/?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/backoffice/sign-in?next=%2Fbackoffice%2Fconnections%2F%3Fx%3D1"

    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/backoffice" in cookie
    form = browser_client.get(response.headers["location"])
    signed = browser_client.post(
        "/backoffice/sign-in",
        data={"api_key": BOOTSTRAP_KEY, "csrf_token": csrf_of(form.text), "next": "/backoffice/connections/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/backoffice/connections/"
    assert BOOTSTRAP_KEY not in signed.headers["set-cookie"]
    assert browser_client.get("/backoffice/connections/").status_code == 200


def test_wrong_key_and_missing_csrf_are_refused(browser_client: TestClient) -> None:
    token = csrf_of(browser_client.get("/backoffice/sign-in").text)
    wrong = browser_client.post("/backoffice/sign-in", data={"api_key": "x" * 20, "csrf_token": token})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.text

    forged = browser_client.post(
        "/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert "security token" in forged.text
    assert browser_client.get("/backoffice/datasets/", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_backoffice(browser_client: TestClient) -> None:
    token = csrf_of(browser_client.get("/backoffice/sign-in").text)
    signed = browser_client.post(
        "/backoffice/sign-in",
        data={"api_key": BOOTSTRAP_KEY, "csrf_token": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/backoffice/datasets/"


def test_sign_out_needs_the_token_and_ends_the_session(browser_client: TestClient) -> None:
    token = csrf_of(browser_client.get("/backoffice/sign-in").text)
    browser_client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
    page = browser_client.get("/backoffice/datasets/")
    assert browser_client.post("/backoffice/sign-out", data={}).status_code == 403
    assert browser_client.get("/backoffice/datasets/", follow_redirects=False).status_code == 200
    browser_client.post("/backoffice/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert browser_client.get("/backoffice/datasets/", follow_redirects=False).status_code == 303


def test_an_old_cookie_no_longer_signs_in_after_sign_out(browser_client: TestClient) -> None:
    """The session lives on the server: a copy of the cookie taken before sign-out is worth nothing."""
    token = csrf_of(browser_client.get("/backoffice/sign-in").text)
    browser_client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
    stolen = browser_client.cookies[COOKIE_NAME]
    assert BOOTSTRAP_KEY not in stolen and "ak_" not in stolen  # neither the key nor its uid
    page = browser_client.get("/backoffice/datasets/")
    browser_client.post("/backoffice/sign-out", data={"csrf_token": csrf_of(page.text)})
    browser_client.cookies.clear()
    browser_client.cookies.set(COOKIE_NAME, stolen, path="/backoffice")
    replayed = browser_client.get("/backoffice/datasets/", follow_redirects=False)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/backoffice/sign-in")


def test_signing_in_again_replaces_the_session(browser_client: TestClient) -> None:
    token = csrf_of(browser_client.get("/backoffice/sign-in").text)
    browser_client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
    first = browser_client.cookies[COOKIE_NAME]
    token = csrf_of(browser_client.get("/backoffice/sign-in?next=/backoffice/datasets/x").text)
    browser_client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
    second = browser_client.cookies[COOKIE_NAME]
    assert first != second
    browser_client.cookies.clear()
    browser_client.cookies.set(COOKIE_NAME, first, path="/backoffice")
    assert browser_client.get("/backoffice/datasets/", follow_redirects=False).status_code == 303


def test_a_session_expires_on_the_server_too(tmp_path: Path, database_url: str) -> None:
    """Expiry is the database's word, not only the cookie's: an expired row signs nobody in, and the next
    sign-in sweeps it (on SQLite and PostgreSQL, whose time zones differ)."""
    settings = make_settings(tmp_path / "home", database_url=database_url)
    database = open_database(settings)
    try:
        with database.session() as db:
            key_uid = apikeys.create_key(db, "web", ["edit_domain"]).api_key.uid
            expired = open_session(db, key_uid, timedelta(seconds=-1))
            live = open_session(db, key_uid, timedelta(hours=1))
        with database.session() as db:
            assert signed_in_key_uid(db, expired) is None
            assert signed_in_key_uid(db, live) == key_uid
            open_session(db, key_uid, timedelta(hours=1))
        with database.session() as db:
            assert db.scalar(select(func.count()).select_from(BackofficeSession)) == 2  # expired swept
    finally:
        database.dispose()


def test_tampered_cookie_is_a_new_anonymous_session(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    codec = SessionCodec(session_secret(settings), max_age_seconds=3600)
    value = codec.dumps(WebSession(session_id="some-session", csrf_token="token"))
    assert codec.loads(value) == WebSession(session_id="some-session", csrf_token="token")
    assert codec.loads(value[:-2] + "xx") is None
    assert SessionCodec(b"another secret", max_age_seconds=3600).loads(value) is None
    assert (settings.home / "backoffice-session.key").stat().st_mode & 0o777 == 0o600
    assert COOKIE_NAME == "datawharf_backoffice"


def test_a_key_without_the_permission_sees_why(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    with make_app_client(settings) as client:
        client.headers.pop("Authorization")
        database = open_database(settings)
        with database.session() as session:
            reader = apikeys.create_key(session, "reader", ["explore_restricted_dataset"]).key
        database.dispose()
        token = csrf_of(client.get("/backoffice/sign-in").text)
        client.post("/backoffice/sign-in", data={"api_key": reader, "csrf_token": token})
        refused = client.get("/backoffice/connections/")
        assert refused.status_code == 403
        assert "lacks the &#39;edit_domain&#39; permission" in refused.text
        assert client.get("/backoffice/datasets/new").status_code == 403
        assert client.get("/backoffice/datasets/").status_code == 200
