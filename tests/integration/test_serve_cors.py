"""CORS over HTTP against ``datawharf serve``: the public read APIs open to pages of other origins, the
management API and the backoffice never.

A browser sends ``Origin`` on every cross-origin request and a preflight ``OPTIONS`` before one carrying
``Authorization``; it lets the page read the answer only when ``Access-Control-Allow-Origin`` allows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import reference
from tests.support.app import AUTH, BOOTSTRAP_KEY
from tests.support.processes import datawharf_serve

PAGE = "https://widgets.example.org"
EXPLORE = "/api/explore/v2.1"
API = "/api/automation/v1.0"


def preflight(origin: str, method: str = "GET", headers: str = "authorization") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_headers(answer: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in answer.headers.items() if name.startswith("access-control-")}


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server on the default settings: every origin may read the Explore API."""
    home = tmp_path_factory.mktemp("cors-public") / "home"
    with (
        datawharf_serve(home, {"DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY}) as (base_url, _),
        httpx.Client(base_url=base_url, timeout=30.0) as client,
    ):
        reference.install(client)
        yield client


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server that lets two origins in (the second as an operator may write it: capitals, a slash)."""
    home = tmp_path_factory.mktemp("cors-listed") / "home"
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_CORS_ORIGINS": f"{PAGE}, http://LOCALHOST:3000/",
    }
    with datawharf_serve(home, env) as (base_url, _), httpx.Client(base_url=base_url, timeout=30.0) as client:
        reference.install(client)
        yield client


@pytest.mark.parametrize(
    "path",
    [
        f"{EXPLORE}/catalog/datasets",
        f"{EXPLORE}/catalog/datasets/",
        f"{EXPLORE}/catalog/datasets/nope/records",
    ],
)
def test_explore_answers_any_origin_errors_included(public: httpx.Client, path: str) -> None:
    answer = public.get(path, headers={"Origin": PAGE})
    assert answer.status_code in (200, 404)
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-expose-headers"] == "Content-Disposition"
    assert "access-control-allow-credentials" not in answer.headers


def test_explore_answers_the_preflight_of_a_request_with_a_key(public: httpx.Client) -> None:
    answer = public.options(f"{EXPLORE}/catalog/datasets", headers=preflight(PAGE, headers="authorization"))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Authorization" in answer.headers["access-control-allow-headers"].split(", ")
    # The request the browser then sends, with the key, is read as usual.
    read = public.get(f"{EXPLORE}/catalog/datasets", headers={"Origin": PAGE, **AUTH})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == "*"


def test_a_preflight_for_a_write_is_refused_with_a_json_error(public: httpx.Client) -> None:
    answer = public.options(f"{EXPLORE}/catalog/datasets", headers=preflight(PAGE, method="DELETE"))
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "cors_preflight_refused"
    assert body["detail"]["refused"] == ["method"] and "DATAWHARF_CORS_ORIGINS" in body["message"]


@pytest.mark.parametrize(
    "path", ["/api/datasets/1.0/search/", "/api/records/1.0/search/", "/explore/dataset/x/"]
)
def test_the_v1_read_apis_are_in_the_scope(public: httpx.Client, path: str) -> None:
    """Scoped by path prefix: the v1 dataset and records APIs and the v1 export URL get the same policy."""
    answer = public.options(path, headers=preflight(PAGE))
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path", [f"{API}/datasets/", f"{API}/datasets", f"{API}/apikeys/", "/backoffice/sign-in"]
)
def test_the_management_api_and_the_backoffice_are_not_opened(public: httpx.Client, path: str) -> None:
    read = public.get(path, headers={"Origin": PAGE, **AUTH}, follow_redirects=False)
    assert read.status_code in (200, 303), read.text
    assert cors_headers(read) == {}
    refused = public.options(
        path, headers=preflight(PAGE, method="POST", headers="authorization, content-type")
    )
    assert refused.status_code == 405
    assert cors_headers(refused) == {}


def test_a_listed_origin_is_echoed_another_is_not_let_in(listed: httpx.Client) -> None:
    path = f"{EXPLORE}/catalog/datasets"
    allowed = listed.get(path, headers={"Origin": PAGE})
    assert allowed.headers["access-control-allow-origin"] == PAGE
    assert "Origin" in allowed.headers["vary"]
    assert (
        listed.get(path, headers={"Origin": "http://localhost:3000"}).headers["access-control-allow-origin"]
        == "http://localhost:3000"
    )
    other = listed.get(path, headers={"Origin": "https://elsewhere.example.com"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    ok = listed.options(path, headers=preflight(PAGE))
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PAGE
    refused = listed.options(path, headers=preflight("https://elsewhere.example.com"))
    assert refused.status_code == 400
    assert refused.json()["detail"] == {"refused": ["origin"], "origin": "https://elsewhere.example.com"}
    assert "access-control-allow-origin" not in refused.headers


def test_an_empty_setting_opens_nothing(tmp_path: Path) -> None:
    with (
        datawharf_serve(tmp_path / "home", {"DATAWHARF_CORS_ORIGINS": ""}) as (base_url, _),
        httpx.Client(base_url=base_url, timeout=30.0) as client,
    ):
        read = client.get(f"{EXPLORE}/catalog/datasets", headers={"Origin": PAGE})
        refused = client.options(f"{EXPLORE}/catalog/datasets", headers=preflight(PAGE))
    assert read.status_code == 200 and cors_headers(read) == {}
    assert refused.status_code == 405 and cors_headers(refused) == {}
