"""The dataset page's metadata and visibility forms, posted as a browser posts them (signed in, with the
CSRF token): the draft saved and confirmed, the refusals shown on the page with their message, the
visibility switched. The browser journey (tests/browser/test_dataset_metadata.py) adds Explore's side."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings

API = "/api/automation/v1.0"
FORM = {
    "title": "Air quality",
    "description": "Hourly readings.",
    "keywords": "air, no2 , ",
    "license": "ODbL",
    "license_id": "odbl",
    "publisher": "City of Lyon",
    "language": "fr",
    "themes": "Environment",
    "attributions": "Atmo\n\nCity of Lyon\n",
}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    with make_app_client(make_settings(tmp_path)) as client:
        token = _csrf(client.get("/backoffice/sign-in").text)
        client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
        uid = client.post(f"{API}/datasets/", json={"metadata": {}}).json()["uid"]
        yield client, uid


def _post(client: TestClient, uid: str, path: str, data: dict[str, str]) -> tuple[int, str]:
    token = _csrf(client.get(f"/backoffice/datasets/{uid}").text)
    response = client.post(f"/backoffice/datasets/{uid}/{path}", data={**data, "csrf_token": token})
    return response.status_code, response.text


def test_the_form_saves_a_draft_and_confirms_it(site: tuple[TestClient, str]) -> None:
    client, uid = site
    status, page = _post(client, uid, "metadata", FORM)
    assert status == 200  # the redirect followed
    assert "Metadata saved as a draft" in page
    shown = client.get(f"{API}/datasets/{uid}/metadata/").json()
    assert shown["default"]["title"] == {"value": "Air quality"}
    assert shown["default"]["keyword"] == {"value": ["air", "no2"]}
    assert shown["default"]["attributions"] == {"value": ["Atmo", "City of Lyon"]}
    assert shown["default"]["theme"] == {"value": ["Environment"]}
    assert shown["default"]["language"] == {"value": "fr"}
    assert shown["internal"]["license_id"] == {"value": "odbl"}
    assert 'value="air, no2"' in page  # the form shows the draft back

    # An emptied box unsets its field.
    status, _page = _post(client, uid, "metadata", {**FORM, "publisher": "", "keywords": ""})
    default = client.get(f"{API}/datasets/{uid}/metadata/default/").json()
    assert "publisher" not in default and "keyword" not in default


def test_refusals_are_shown_on_the_page(site: tuple[TestClient, str]) -> None:
    client, uid = site
    status, page = _post(client, uid, "metadata", {**FORM, "language": "xx"})
    assert status == 400
    assert "Not done." in page and "metadata.default.language.value" in page
    kept = client.get(f"{API}/datasets/{uid}/metadata/default/").json()
    assert kept["language"] == {"value": "en"}  # nothing of the refused form was kept: the default
    assert "description" not in kept
    status, page = _post(client, uid, "metadata/publish", {})
    assert status == 400
    assert "is not published" in page


def test_the_visibility_switch(site: tuple[TestClient, str]) -> None:
    client, uid = site
    status, page = _post(client, uid, "visibility", {"visibility": "restricted"})
    assert status == 200 and "restricted now" in page
    assert client.get(f"{API}/datasets/{uid}/").json()["is_restricted"] is True
    status, page = _post(client, uid, "visibility", {"visibility": "public"})
    assert status == 200 and "public now" in page
    assert client.get(f"{API}/datasets/{uid}/").json()["is_restricted"] is False
    status, _page = _post(client, uid, "visibility", {"visibility": "everyone"})
    assert status == 400
    assert client.get(f"{API}/datasets/{uid}/").json()["is_restricted"] is False


def test_a_key_without_the_permission_changes_nothing(tmp_path: Path) -> None:
    with make_app_client(make_settings(tmp_path)) as admin:
        uid = admin.post(f"{API}/datasets/", json={"metadata": {}}).json()["uid"]
        reader = admin.post(f"{API}/apikeys/", json={"label": "reader", "permissions": ["create_dataset"]})
        key = reader.json()["key"]
        admin.headers.pop("Authorization")
        token = _csrf(admin.get("/backoffice/sign-in").text)
        admin.post("/backoffice/sign-in", data={"api_key": key, "csrf_token": token})
        for path, data in (("metadata", FORM), ("visibility", {"visibility": "restricted"})):
            status, page = _post(admin, uid, path, data)
            assert status == 403, path
            assert "edit_dataset" in page
        status, page = _post(admin, uid, "metadata/publish", {})
        assert status == 403 and "publish_dataset" in page
        shown = admin.get(f"{API}/datasets/{uid}/", headers={"Authorization": f"apikey {BOOTSTRAP_KEY}"})
        assert shown.json()["is_restricted"] is False
        assert set(shown.json()["metadata"]["default"]) == {"title", "modified", "language"}
