"""Every API route answers with and without its trailing slash, at once, never with a redirect.

Clients build paths their own way: huwise-utils-py asks for ``/datasets/{uid}`` where the reference
writes ``/datasets/{uid}/``, the JS client for ``…/facets/`` where Explore writes ``…/facets``; httpx
follows no redirect. The routes come from the app's own OpenAPI document, so a route added later is
covered without touching this file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

API_PREFIXES = ("/api/automation/v1.0/", "/api/explore/v2.1/")


def api_operations(client: TestClient) -> list[tuple[str, str]]:
    """(method, path template) of every operation of both APIs, in the app's OpenAPI document."""
    paths: dict[str, dict[str, Any]] = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith(API_PREFIXES)
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def both_forms(template: str) -> tuple[str, str]:
    """The template with dummy path parameters, without and with its trailing slash."""
    path = re.sub(r"\{[^}]+\}", "x", template).rstrip("/")
    return path, f"{path}/"


def route_missing(client: TestClient) -> tuple[int, str]:
    """What the app answers for a path no route has: what a mis-routed form would get."""
    answer = client.get("/api/automation/v1.0/no-such-route/")
    return answer.status_code, answer.json()["error_code"]


def test_the_apis_have_the_routes_this_test_walks(app_client: TestClient) -> None:
    operations = api_operations(app_client)
    templates = {path for _, path in operations}
    # Both conventions are there: the management API's slashes, Explore's none.
    assert "/api/automation/v1.0/datasets/{dataset_uid}/" in templates
    assert "/api/explore/v2.1/catalog/datasets/{dataset_id}/records" in templates
    assert len(operations) >= 30


def test_every_route_answers_both_forms_without_a_redirect(app_client: TestClient) -> None:
    client = TestClient(app_client.app, raise_server_exceptions=False, follow_redirects=False)
    client.headers.update(app_client.headers)
    missing = route_missing(client)
    failures = []
    with client:
        for method, template in api_operations(app_client):
            answers = {}
            for path in both_forms(template):
                body = None if method in ("GET", "DELETE") else {}
                answer = client.request(method, path, json=body)
                code = (
                    answer.json().get("error_code") if answer.content and answer.status_code >= 400 else None
                )
                answers[path] = (answer.status_code, code)
                if (
                    300 <= answer.status_code < 400
                    or answer.status_code == 405
                    or (answer.status_code, code) == missing
                ):
                    failures.append(f"{method} {path} -> {answer.status_code} {code}")
            if len(set(answers.values())) != 1:
                failures.append(f"{method} {template}: the two forms answer differently: {answers}")
    assert failures == []


@pytest.mark.parametrize(
    "path",
    ["/api/automation/v1.0/datasets", "/api/automation/v1.0/apikeys", "/api/explore/v2.1/catalog/datasets/"],
)
def test_a_list_read_in_the_other_form_is_the_same_list(app_client: TestClient, path: str) -> None:
    other = path.rstrip("/") if path.endswith("/") else f"{path}/"
    first, second = (
        app_client.get(path, follow_redirects=False),
        app_client.get(other, follow_redirects=False),
    )
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


def test_a_write_in_the_other_form_takes_effect_once(app_client: TestClient) -> None:
    """``POST /datasets`` (no slash) creates the dataset as ``/datasets/`` does: no redirect drops it."""
    body = {"metadata": {"default": {"title": {"value": "No slash"}}}}
    created = app_client.post("/api/automation/v1.0/datasets", json=body, follow_redirects=False)
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    read = app_client.get(f"/api/automation/v1.0/datasets/{uid}", follow_redirects=False)
    assert read.status_code == 200 and read.json()["metadata"]["default"]["title"]["value"] == "No slash"
    deleted = app_client.delete(f"/api/automation/v1.0/datasets/{uid}", follow_redirects=False)
    assert deleted.status_code == 204
    assert app_client.get(f"/api/automation/v1.0/datasets/{uid}/").status_code == 404


def test_a_path_neither_form_of_which_exists_is_still_a_404(app_client: TestClient) -> None:
    for path in ("/api/automation/v1.0/nothing", "/api/automation/v1.0/nothing/", "/api/explore/v2.1/x/y/"):
        answer = app_client.get(path, follow_redirects=False)
        assert answer.status_code == 404 and answer.json()["error_code"] == "not_found"


def test_the_backoffice_keeps_its_redirect(app_client: TestClient) -> None:
    """Its pages hold relative links, which resolve against the URL the browser shows: so it redirects."""
    answer = app_client.get("/backoffice/datasets", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"].endswith("/backoffice/datasets/")
