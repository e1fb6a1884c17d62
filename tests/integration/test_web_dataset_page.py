"""The dataset page's server side, through the real app and the moto S3 server (the drawing itself is in
``tests/browser/test_dataset_panels.py``): the map's tile setting, the restricted dataset's records and
GeoJSON read with the signed-in key, the confirmations after a change, the wizard's taken-identifier
message, the favicon, and counted nouns."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from datawharf.settings import Settings
from datawharf.web.rendering import counted
from tests.integration.test_datasets_publish import API, create_connection, create_dataset, publish
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

PLACES = (
    b"name;kind;position\n"
    b"Gare du Nord;station;48.8809,2.3553\n"
    b"Gare de Lyon;station;48.8443,2.3744\n"
    b"Louvre;museum;48.8606,2.3376\n"
)
TILES = "https://tiles.example.test/{z}/{x}/{y}.png"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def signed_in(client: TestClient) -> TestClient:
    """A second client on the same app, signed in to the backoffice (cookies of its own)."""
    browser = TestClient(client.app)
    token = csrf_of(browser.get("/backoffice/sign-in").text)
    signed = browser.post(
        "/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    return browser


def make_client(tmp_path: Path, moto_server: MotoServer, **settings: object) -> Iterator[TestClient]:
    values = make_settings(tmp_path / "home", allowed_private_hosts=[moto_server.host_port], **settings)
    with make_app_client(values) as client:
        yield client


@pytest.fixture
def client(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    yield from make_client(tmp_path, moto_server)


@pytest.fixture
def tiled_client(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    yield from make_client(
        tmp_path, moto_server, map_tiles_url=TILES, map_tiles_attribution="© Example contributors"
    )


def published_places(client: TestClient, s3_bucket: S3Bucket, *, restricted: bool = False) -> str:
    s3_bucket.put("places.csv", PLACES)
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(client, "Places", s3_bucket.url("places.csv"), connection=connection)
    if restricted:
        assert client.put(f"{API}/datasets/{uid}/", json={"is_restricted": True}).status_code == 200
    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    return uid


def test_map_without_tiles_is_an_outline(client: TestClient, s3_bucket: S3Bucket) -> None:
    uid = published_places(client, s3_bucket)
    page = signed_in(client).get(f"/backoffice/datasets/{uid}").text
    assert 'id="map-card"' in page and 'data-tiles-url=""' in page
    assert "No tile server is set" in page
    for geo_format in ("geojson", "shp", "kml", "fgb", "gpx"):  # the Explore API's geo exports, offered
        assert f'href="/api/explore/v2.1/catalog/datasets/places/exports/{geo_format}"' in page
    assert '<option value="position">position (geo_point_2d)</option>' in page
    # Read from the public Explore API (records for the chart, a GeoJSON export for the map).
    assert 'data-exports-url="/api/explore/v2.1/catalog/datasets/places/exports"' in page
    assert 'data-records-url="/api/explore/v2.1/catalog/datasets/places/records"' in page
    assert "/backoffice/static/vendor/leaflet/leaflet.js" in page
    assert client.get("/backoffice/static/vendor/leaflet/leaflet.js").text.startswith(
        "/* @preserve\n * Leaflet 1.9.4"
    )


def test_map_tiles_come_from_the_setting(tiled_client: TestClient, s3_bucket: S3Bucket) -> None:
    uid = published_places(tiled_client, s3_bucket)
    page = signed_in(tiled_client).get(f"/backoffice/datasets/{uid}").text
    assert f'data-tiles-url="{TILES}"' in page
    assert 'data-tiles-attribution="© Example contributors"' in page
    assert "No tile server is set" not in page


def test_a_dataset_without_geo_field_has_no_map(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("kinds.csv", b"name;kind\nLouvre;museum\n")
    connection = {"uid": create_connection(client, s3_bucket.server)}
    uid = create_dataset(client, "Kinds", s3_bucket.url("kinds.csv"), connection=connection)
    publish(client, uid)
    page = signed_in(client).get(f"/backoffice/datasets/{uid}").text
    assert 'id="map-card"' not in page and "leaflet.js" not in page
    assert 'id="chart-card"' in page
    dataset_id = client.get(f"{API}/datasets/{uid}/").json()["dataset_id"]
    exports = f"/api/explore/v2.1/catalog/datasets/{dataset_id}/exports"
    assert f'href="{exports}/parquet"' in page and f'href="{exports}/xlsx"' in page
    assert f'href="{exports}/kml"' not in page and f'href="{exports}/geojson"' not in page  # a 400 there


@pytest.mark.parametrize(
    "value", ["ftp://tiles.example.test/{z}/{x}/{y}.png", "https://tiles.example.test/{z}/{x}.png", "tiles"]
)
def test_the_tiles_url_must_be_a_template(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValidationError, match="URL template with"):
        Settings(home=tmp_path, map_tiles_url=value)
    assert Settings(home=tmp_path, map_tiles_url=" ").map_tiles_url is None


def test_restricted_records_and_geojson_with_the_signed_in_key(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    uid = published_places(client, s3_bucket, restricted=True)
    browser = signed_in(client)
    page = browser.get(f"/backoffice/datasets/{uid}").text
    assert f'data-exports-url="/backoffice/datasets/{uid}/exports"' in page
    assert (
        client.get(
            "/api/explore/v2.1/catalog/datasets/places/records", headers={"Authorization": ""}
        ).status_code
        == 404
    )
    grouped = browser.get(
        f"/backoffice/datasets/{uid}/records",
        params={"select": "kind, count(*) as n", "group_by": "kind", "order_by": "n desc"},
    )
    assert grouped.status_code == 200, grouped.text
    assert grouped.json() == {
        "total_count": 2,
        "results": [{"kind": "station", "n": 2}, {"kind": "museum", "n": 1}],
    }
    shapes = browser.get(
        f"/backoffice/datasets/{uid}/exports/geojson",
        params={"select": "position", "where": "position is not null", "limit": "2"},
    )
    assert shapes.status_code == 200, shapes.text
    features = shapes.json()["features"]
    assert [f["geometry"] for f in features] == [
        {"type": "Point", "coordinates": [2.3553, 48.8809]},
        {"type": "Point", "coordinates": [2.3744, 48.8443]},
    ]
    refused = browser.get(f"/backoffice/datasets/{uid}/records", params={"group_by": "nope"})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "unknown_field")


def test_changes_are_confirmed_and_only_with_known_words(client: TestClient, s3_bucket: S3Bucket) -> None:
    uid = published_places(client, s3_bucket)
    browser = signed_in(client)
    token = csrf_of(browser.get(f"/backoffice/datasets/{uid}").text)
    added = browser.post(
        f"/backoffice/datasets/{uid}/schedules",
        data={"csrf_token": token, "cron_schedule": "0 3 * * *"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/backoffice/datasets/{uid}?saved=schedule#schedule-heading"
    assert 'role="status" data-notice>Schedule saved.</div>' in browser.get(added.headers["location"]).text
    renamed = browser.post(
        f"/backoffice/datasets/{uid}/fields/kind",
        data={"csrf_token": token, "to_name": "kind", "label": "Kind of place", "current_label": "kind"},
    )
    assert "Field change saved: it applies at the next publish." in renamed.text
    # The query names a sentence of a fixed list; anything else shows nothing (no reflected text).
    crafted = browser.get(f"/backoffice/datasets/{uid}", params={"saved": "<b>Your key was stolen</b>"}).text
    assert "data-notice" not in crafted and "stolen" not in crafted


def test_a_taken_identifier_is_refused_in_the_forms_words(client: TestClient, s3_bucket: S3Bucket) -> None:
    uid = published_places(client, s3_bucket)
    browser = signed_in(client)
    token = csrf_of(browser.get(f"/backoffice/datasets/{uid}").text)
    refused = browser.post(
        "/backoffice/datasets/new/save",
        data={
            "csrf_token": token,
            "connection": "co_unused",
            "url": s3_bucket.url("places.csv"),
            "type": "csvfile",
            "title": "Places again",
            "dataset_id": "places",
        },
    )
    assert refused.status_code == 400
    message = html.unescape(refused.text)
    assert "The identifier 'places' is already taken by another dataset" in message
    assert "strict" not in message.lower().replace("restricted", "")


def test_every_page_has_the_favicon(client: TestClient) -> None:
    icon = client.get("/backoffice/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    sign_in = client.get("/backoffice/sign-in").text
    assert '<link rel="icon" href="/backoffice/static/favicon.svg" type="image/svg+xml">' in sign_in


def test_counted_nouns() -> None:
    assert counted(1, "field") == "1 field"
    assert counted(0, "field") == "0 fields"
    assert counted(1500, "record") == "1,500 records"
    assert counted(2, "query", "queries") == "2 queries"
