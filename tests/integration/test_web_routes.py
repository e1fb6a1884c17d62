"""Every backoffice route, enumerated from the app: a GET acts on nothing, everything else needs the token.

A page on another site can send a signed-in admin's browser to any backoffice GET (the cookie is
``SameSite=Lax``): so no GET may write to the database or open a connection (to S3 with a connection's
secrets, or anywhere). Each GET route is listed below with a request that reaches it; a new GET route
fails this test until it is listed (and so reviewed). Writes are seen as the SQL the engine runs, and
connections as Python's ``socket.connect`` audit events (the in-process test client and SQLite open
none, so any is an outbound request).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event

from datawharf.web.rendering import csrf_checked
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_CONNECTS: list[Any] | None = None  # recording only inside ``watched()``


def _audit(event_name: str, args: tuple[Any, ...]) -> None:
    if _CONNECTS is not None and event_name == "socket.connect":
        _CONNECTS.append(args[1])


sys.addaudithook(_audit)  # hooks cannot be removed: this one records only while a list is set


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


class Watched:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.writes: list[str] = []
        self.connects: list[Any] = []
        event.listen(client.app.state.database.engine, "before_cursor_execute", self._sql)  # type: ignore[attr-defined]

    def _sql(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if WRITES.match(statement):
            self.writes.append(statement.split("(")[0].strip())

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, list[str], list[Any]]:
        global _CONNECTS
        self.writes.clear()
        _CONNECTS = self.connects = []
        try:
            response = self.client.request(method, path, follow_redirects=False, **kwargs)
        finally:
            _CONNECTS = None
        return response.status_code, list(self.writes), list(self.connects)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    settings = make_settings(
        tmp_path_factory.mktemp("routes"), allowed_private_hosts=[moto_server.host_port], s3_max_attempts=1
    )
    bucket = S3Bucket(moto_server, moto_server.create_bucket())
    bucket.put("data/a.csv", b"a;b\n1;2\n")
    with make_app_client(settings) as client:
        auth = {"type": "aws_signature_v4", "access_key_id": "AKIAROUTES", "secret_access_key": "s"}
        connection = client.post(
            f"{API}/datasource_connections/",
            json={"url": moto_server.endpoint_url, "auth": {**auth, "region": "us-east-1"}},
        ).json()["uid"]
        dataset = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "R"}}}})
        token = csrf_of(client.get("/backoffice/sign-in").text)
        client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
        client.headers.pop("Authorization")  # from here on, the browser's cookie only
        yield {
            "client": client,
            "watched": Watched(client),
            "connection": connection,
            "dataset": dataset.json()["uid"],
            "url": bucket.url("data/a.csv"),
        }


def _flat(routes: list[Any]) -> Iterator[Any]:
    """The app's routes; FastAPI >= 0.16x keeps an included router as one entry (``original_router``)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else [route]


def backoffice_routes(client: TestClient) -> list[APIRoute]:
    routes = _flat(client.app.routes)  # type: ignore[attr-defined]
    return [r for r in routes if isinstance(r, APIRoute) and r.path.startswith("/backoffice")]


def _dependencies(route: APIRoute) -> set[Any]:
    found, todo = set(), list(route.dependant.dependencies)
    while todo:
        dependant = todo.pop()
        found.add(dependant.call)
        todo.extend(dependant.dependencies)
    return found


def get_requests(site: dict[str, Any]) -> dict[str, list[str]]:
    """Each GET route (its path template) and requests that reach it, with the wizard's attack among them."""
    co, da, url = site["connection"], site["dataset"], site["url"]
    return {
        "/backoffice/": ["/backoffice/"],
        "/backoffice/sign-in": ["/backoffice/sign-in", "/backoffice/sign-in?next=/backoffice/connections/"],
        "/backoffice/connections/": ["/backoffice/connections/"],
        "/backoffice/connections/new": [
            "/backoffice/connections/new",
            "/backoffice/connections/new?method=aws_signature_v4",
        ],
        "/backoffice/connections/{uid}": [
            f"/backoffice/connections/{co}",
            f"/backoffice/connections/{co}?policy_url={url}",
        ],
        "/backoffice/connections/{uid}/edit": [f"/backoffice/connections/{co}/edit"],
        "/backoffice/datasets/new": ["/backoffice/datasets/new", f"/backoffice/datasets/new?dataset={da}"],
        "/backoffice/datasets/{uid}/sources/new": [f"/backoffice/datasets/{da}/sources/new"],
        "/backoffice/datasets/new/amazon-s3": [
            "/backoffice/datasets/new/amazon-s3",
            # What the cross-site link of issue 12 now reaches: the form, prefilled; nothing is read.
            f"/backoffice/datasets/new/amazon-s3?connection={co}&file_url={url}&dataset={da}",
        ],
        # The link of issue 12 itself: it now redirects to the prefilled form.
        "/backoffice/datasets/new/preview": [f"/backoffice/datasets/new/preview?connection={co}&url={url}"],
        "/backoffice/datasets/new/information": [
            f"/backoffice/datasets/new/information?connection={co}&url={url}&type=csvfile&params=%7B%7D"
        ],
        "/backoffice/datasets/": ["/backoffice/datasets/"],
        "/backoffice/datasets/identifier": ["/backoffice/datasets/identifier?title=Hello"],
        "/backoffice/datasets/{uid}": [f"/backoffice/datasets/{da}"],
        "/backoffice/datasets/{uid}/records": [f"/backoffice/datasets/{da}/records?limit=5"],
        "/backoffice/datasets/{uid}/exports/{format}": [f"/backoffice/datasets/{da}/exports/csv"],
        "/backoffice/datasets/{uid}/status": [f"/backoffice/datasets/{da}/status"],
        "/backoffice/harvesters/": ["/backoffice/harvesters/"],
    }


def test_every_get_route_is_listed_and_every_other_route_needs_the_csrf_token(site: dict[str, Any]) -> None:
    routes = backoffice_routes(site["client"])
    gets = {r.path for r in routes if r.methods == {"GET"}}
    assert gets == set(get_requests(site)), "a backoffice GET route was added: list it in get_requests()"
    for route in routes:
        assert route.methods <= {"GET", "POST"}, route.path
        if route.methods != {"GET"}:
            assert csrf_checked in _dependencies(route), f"{route.methods} {route.path} lacks csrf_checked"


def test_no_get_route_writes_or_reaches_out(site: dict[str, Any]) -> None:
    watched: Watched = site["watched"]
    for template, paths in get_requests(site).items():
        for path in paths:
            status, writes, connects = watched.request("GET", path)
            assert status < 500, (template, path, status)
            assert writes == [], f"GET {path} wrote: {writes}"
            assert connects == [], f"GET {path} opened connections to {connects}"


def test_the_preview_reads_only_on_a_post_with_the_token(site: dict[str, Any]) -> None:
    """The negative control of the test above (the watch does see a preview's requests), and the CSRF
    refusal of the POST a cross-site form could send."""
    watched: Watched = site["watched"]
    form = {"connection": site["connection"], "url": site["url"], "type": "csvfile", "p.separator": '";"'}
    status, _writes, connects = watched.request("POST", "/backoffice/datasets/new/preview", data=form)
    assert (status, connects) == (403, [])
    token = csrf_of(site["client"].get("/backoffice/datasets/new/amazon-s3").text)
    status, writes, connects = watched.request(
        "POST", "/backoffice/datasets/new/preview", data={**form, "csrf_token": token}
    )
    assert status == 200 and writes == [] and connects, (status, writes, connects)
    page = site["client"].post("/backoffice/datasets/new/preview", data={**form, "csrf_token": token})
    assert 'id="preview-table"' in page.text
    assert f"/backoffice/datasets/new/amazon-s3?connection={site['connection']}" in page.text  # back/reload


def test_an_old_preview_link_opens_the_prefilled_form(site: dict[str, Any]) -> None:
    page = site["client"].get(
        f"/backoffice/datasets/new/preview?connection={site['connection']}&url=data/a.csv"
    )
    assert page.status_code == 200
    assert page.url.path == "/backoffice/datasets/new/amazon-s3"
    assert 'value="data/a.csv"' in page.text
    assert 'id="preview-table"' not in page.text
