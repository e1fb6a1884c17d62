"""Extractor parameters through the API, the CLI and the backoffice: the ones not given are guessed once,
at creation, stored and returned, so the preview and the publish read the same; unknown names and
invalid values are refused where they are given, with ``invalid_params`` and the names that are valid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource
from tests.integration.test_datasets_publish import create_connection, publish
from tests.integration.test_web_auth import csrf_of
from tests.support.app import BOOTSTRAP_KEY, make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"
COMMAND = (sys.executable, "-m", "datawharf", "datasets", "create")
STATIONS = (
    b"station_id;name;capacity;lat;lon;xy\n"
    b"1;Gare du Nord;40;48.8809;2.3553;a\n"
    b"2;Bastille;25;48.8532;2.3692;b\n"
    b"3;Nation;30;48.8483;2.3959;c\n"
)


@pytest.fixture
def app_settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return make_settings(
        tmp_path / "home", allowed_private_hosts=[moto_server.host_port], scheduler_interval=0.2
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with make_app_client(app_settings) as client:
        yield client


def _dataset(client: TestClient, title: str = "Stations") -> str:
    response = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": title}}}})
    assert response.status_code == 201, response.text
    return response.json()["uid"]


def test_a_resource_without_params_is_published_as_it_was_previewed(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    """The README's IAM-section flow: POST a resource with a type and no params, preview, publish."""
    s3_bucket.put("velib/stations.csv", STATIONS)
    connection = create_connection(client, s3_bucket.server)
    uid = _dataset(client)
    created = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "type": "csvfile",
            "title": "stations.csv",
            "datasource": {
                "type": "amazon_s3",
                "url": s3_bucket.url("velib/stations.csv"),
                "connection": {"uid": connection},
            },
        },
    )
    assert created.status_code == 201, created.text
    stored = created.json()["params"]
    assert stored["separator"] == ";" and stored["headers_first_row"] is True
    resource = created.json()["uid"]
    assert client.get(f"{API}/datasets/{uid}/resources/{resource}/").json()["params"] == stored

    preview = client.get(f"{API}/datasets/{uid}/resources/{resource}/preview/").json()
    names = [f["name"] for f in preview["fields"]]
    assert names == ["station_id", "name", "capacity", "lat", "lon", "xy"]
    assert preview["params"] == stored

    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    assert "3 records" in status["message"]
    files = sorted(str(p) for p in (app_settings.warehouse_dir / uid).rglob("*.parquet"))
    with duckdb.connect() as db:
        published = [
            row[0] for row in db.execute(f"DESCRIBE SELECT * FROM read_parquet({files!r})").fetchall()
        ]
    assert published == names


def test_partial_params_keep_the_given_ones_and_guess_the_rest(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("stations.csv", STATIONS)
    uid = _dataset(client)
    created = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "title": "stations.csv",  # no type either: guessed and stored too
            "params": {"first_row_no": "2", "headers_first_row": False},
            "datasource": {
                "type": "amazon_s3",
                "url": s3_bucket.url("stations.csv"),
                "connection": {"uid": create_connection(client, s3_bucket.server)},
            },
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["type"] == "csvfile"
    assert body["params"]["first_row_no"] == 2  # given (as text), kept, typed
    assert body["params"]["headers_first_row"] is False
    assert body["params"]["separator"] == ";"  # guessed


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"separator": "XX"}, "separator"),
        ({"nosuch": 1}, "nosuch"),
        ({"first_row_no": "two"}, "first_row_no"),
        ({"first_row_no": 0}, "first_row_no"),
        ({"encoding": "utf-99"}, "encoding"),
        ({"doublequote": "maybe"}, "doublequote"),
        ({"epsg": 4326}, "epsg"),  # a geojsonfile parameter, not csvfile's
    ],
)
def test_invalid_params_are_refused_at_creation_with_the_valid_names(
    client: TestClient, params: dict[str, object], named: str
) -> None:
    uid = _dataset(client)
    body = {
        "type": "csvfile",
        "title": "x.csv",
        "params": params,
        "datasource": {"type": "amazon_s3", "url": "s3://no-such-bucket-here/x.csv"},
    }
    created = client.post(f"{API}/datasets/{uid}/resources/", json=body)
    assert created.status_code == 400, created.text
    error = created.json()
    assert error["error_code"] == "invalid_params"
    assert repr(named) in error["message"]
    assert f"params.{named}" in error["detail"]
    assert "separator" in error["detail"]["valid_params"] and "nosuch" not in error["detail"]["valid_params"]
    assert client.get(f"{API}/datasets/{uid}/resources/").json()["total_count"] == 0
    # The unsaved preview refuses them the same way, before anything is read.
    preview = client.post(f"{API}/datasets/{uid}/resources/preview/", json=body)
    assert preview.status_code == 400 and preview.json()["error_code"] == "invalid_params"


def test_the_cli_refuses_an_unknown_parameter_before_reading(tmp_path: Path) -> None:
    env = {"DATAWHARF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "300"}
    env.update({name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ})
    for pair in ("nosuch=1", "separator=XX"):
        done = subprocess.run(
            [*COMMAND, "s3://no-such-bucket-here/x.csv", "--title", "X", "--type", "csvfile", "-p", pair],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stdout
        assert "[invalid_params]" in done.stderr and "doublequote" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_the_wizard_shows_a_refused_parameter(client: TestClient, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("stations.csv", STATIONS)
    connection = create_connection(client, s3_bucket.server)
    client.headers.pop("Authorization")
    token = csrf_of(client.get("/backoffice/sign-in").text)
    signed = client.post(
        "/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    form = client.get("/backoffice/datasets/new/amazon-s3", params={"connection": connection}).text
    page = client.post(
        "/backoffice/datasets/new/preview",
        data={
            "csrf_token": csrf_of(form),
            "connection": connection,
            "url": s3_bucket.url("stations.csv"),
            "type": "csvfile",
            "p.first_row_no": "0",
        },
    )
    assert page.status_code == 200
    assert "first_row_no" in page.text and "must be 1 or more" in page.text


GEOJSON = b"""{"type": "FeatureCollection", "features": [
 {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
  "properties": {"code": "75100", "open": false, "docks": 12, "ratio": 0.5, "since": "2024-01-15"}},
 {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.36, 48.86]},
  "properties": {"code": "75101", "open": true, "docks": 30, "ratio": 1, "since": "2024-02-01"}}
]}"""


def test_typed_sources_keep_their_types_in_preview_and_publish(
    client: TestClient, s3_bucket: S3Bucket, app_settings: Settings
) -> None:
    """A GeoJSON string that reads as a number stays text; a JSON boolean is 0/1, never the text "false"."""
    s3_bucket.put("stations.geojson", GEOJSON)
    uid = _dataset(client, "Typed")
    created = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "type": "geojson",
            "title": "stations.geojson",
            "datasource": {
                "type": "amazon_s3",
                "url": s3_bucket.url("stations.geojson"),
                "connection": {"uid": create_connection(client, s3_bucket.server)},
            },
        },
    )
    assert created.status_code == 201, created.text
    resource = created.json()["uid"]
    preview = client.get(f"{API}/datasets/{uid}/resources/{resource}/preview/").json()
    types = {f["name"]: f["type"] for f in preview["fields"]}
    assert types["code"] == "text" and types["open"] == "int" and types["docks"] == "int"
    assert types["ratio"] == "double" and types["since"] == "date"
    assert [(r["code"], r["open"]) for r in preview["records"]] == [("75100", 0), ("75101", 1)]

    status = publish(client, uid)
    assert status["status"] == "idle", status["message"]
    records = client.get(
        f"/api/explore/v2.1/catalog/datasets/{_ident(client, uid)}/records?order_by=code"
    ).json()
    assert [(r["code"], r["open"], r["docks"]) for r in records["results"]] == [
        ("75100", 0, 12),
        ("75101", 1, 30),
    ]


def _ident(client: TestClient, uid: str) -> str:
    return client.get(f"{API}/datasets/{uid}/").json()["dataset_id"]


def test_a_publish_never_fills_in_parameters(client: TestClient, s3_bucket: S3Bucket) -> None:
    """A resource saved before parameters were guessed at creation (its params lack some) is refused at
    publish, naming them and the fix, instead of being read with the extractor's defaults."""
    s3_bucket.put("stations.csv", STATIONS)
    uid = _dataset(client)
    body = {
        "type": "csvfile",
        "title": "stations.csv",
        "datasource": {
            "type": "amazon_s3",
            "url": s3_bucket.url("stations.csv"),
            "connection": {"uid": create_connection(client, s3_bucket.server)},
        },
    }
    created = client.post(f"{API}/datasets/{uid}/resources/", json=body).json()
    with client.app.state.database.session() as session:  # as an older datawharf saved it
        session.get(Resource, created["uid"]).params = {"encoding": "utf-8"}
    status = publish(client, uid)
    assert status["status"] == "error"
    assert "resource_params_incomplete" in status["message"] and "separator" in status["message"]
    # The fix the message gives: PUT it back, the missing ones are guessed and stored.
    route = f"{API}/datasets/{uid}/resources/{created['uid']}/"
    shown = client.get(route).json()
    assert client.put(route, json={**body, "params": shown["params"]}).json()["params"]["separator"] == ";"
    assert publish(client, uid)["status"] == "idle"


def test_without_a_type_a_parameter_the_guessed_extractor_lacks_is_refused(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    s3_bucket.put("stations.csv", STATIONS)
    uid = _dataset(client)
    created = client.post(
        f"{API}/datasets/{uid}/resources/",
        json={
            "title": "stations.csv",
            "params": {"epsg": 2154},  # a geojson parameter; the file is guessed csvfile
            "datasource": {
                "type": "amazon_s3",
                "url": s3_bucket.url("stations.csv"),
                "connection": {"uid": create_connection(client, s3_bucket.server)},
            },
        },
    )
    assert created.status_code == 400, created.text
    assert created.json()["error_code"] == "invalid_params" and "of csvfile" in created.json()["message"]
