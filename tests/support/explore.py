"""A dataset published for real (CSV on the moto S3 server -> management API -> publish), for the Explore
API tests; and the rows it was made from, so tests compute what they expect instead of hard-coding it.

``ROWS`` are the source values as Python objects; ``csv_bytes(ROWS)`` is the file uploaded. Publishing
guesses the types: id/population int, surface_km2 double, founded date, updated datetime, location
geo_point_2d, area geo_shape, name/city text.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import anyio
import httpx2
from fastapi.testclient import TestClient

from tests.support.app import AUTH, make_app_client, make_settings
from tests.support.moto import MotoServer

API = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1"

HEADERS = ["ID", "Name", "City", "Population", "Surface (km²)", "Founded", "Updated", "Location", "Area"]
FIELDS = ["id", "name", "city", "population", "surface_km2", "founded", "updated", "location", "area"]
TYPES = {
    "id": "int",
    "name": "text",
    "city": "text",
    "population": "int",
    "surface_km2": "double",
    "founded": "date",
    "updated": "datetime",
    "location": "geo_point_2d",
    "area": "geo_shape",
}
CITIES = {  # name -> (lon, lat)
    "Paris": (2.3522, 48.8566),
    "Lyon": (4.8357, 45.764),
    "Marseille": (5.3698, 43.2965),
    "Saint Denis": (2.3574, 48.9362),
    "Lille": (3.0573, 50.6292),
}
SPECIAL_NAMES = {4: "Café de l'Élysée", 9: 'semi;colon "quoted"', 13: "Saint-Denis basilica"}


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    city: str
    population: int | None
    surface_km2: float | None
    founded: dt.date
    updated: dt.datetime
    location: tuple[float, float]  # lon, lat
    area: dict[str, Any] | None

    def get(self, field: str) -> Any:
        return getattr(self, field)


def make_rows(count: int = 30) -> list[Row]:
    rows = []
    names = list(CITIES)
    for i in range(1, count + 1):
        city = names[i % len(names)]
        lon, lat = CITIES[city]
        lon, lat = round(lon + i * 0.001, 6), round(lat + i * 0.001, 6)
        area = None
        if i % 3 == 0:
            ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
            area = {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}
        rows.append(
            Row(
                id=i,
                name=SPECIAL_NAMES.get(i, f"Item {i:02d}"),
                city=city,
                population=None if i == 7 else i * 1000 + (i % 4) * 17,
                surface_km2=None if i == 11 else round(i * 1.5 + 0.25, 2),
                founded=dt.date(2020 + i % 5, i % 12 + 1, i % 28 + 1),
                updated=dt.datetime(2024, 3, 31, 22, 30, tzinfo=dt.UTC) + dt.timedelta(hours=7 * i),
                location=(lon, lat),
                area=area,
            )
        )
    return rows


ROWS = make_rows()


def expected_record(row: Row, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The record the Explore API should return for ``row`` (JSON form)."""
    lon, lat = row.location
    return {
        "id": row.id,
        "name": row.name,
        "city": row.city,
        "population": row.population,
        "surface_km2": row.surface_km2,
        "founded": row.founded.isoformat(),
        "updated": row.updated.astimezone(zone or dt.UTC).isoformat(),
        "location": {"lon": lon, "lat": lat},
        "area": row.area,
    }


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ';"\n') else value


def csv_bytes(rows: list[Row]) -> bytes:
    lines = [";".join(HEADERS)]
    for r in rows:
        cells = [
            str(r.id),
            r.name,
            r.city,
            "" if r.population is None else str(r.population),
            "" if r.surface_km2 is None else str(r.surface_km2),
            r.founded.isoformat(),
            r.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            f"{r.location[1]},{r.location[0]}",
            "" if r.area is None else json.dumps(r.area),
        ]
        lines.append(";".join(_cell(c) for c in cells))
    return ("\n".join(lines) + "\n").encode()


def wait_idle(client: httpx2.Client, uid: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"{API}/datasets/{uid}/status/", headers=AUTH).json()
        if status["status"] in ("idle", "error"):
            return status
        assert time.monotonic() < deadline, f"publish still {status['status']} after {timeout}s"
        time.sleep(0.05)


def publish_csv(
    client: httpx2.Client,  # a TestClient, or a client of a `datawharf serve` subprocess
    server: MotoServer,
    bucket: str,
    key: str,
    body: bytes,
    title: str,
    *,
    restricted: bool = False,
    publish: bool = True,
    keywords: tuple[str, ...] = ("test", "explore"),
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload ``body``, create a dataset (its ``metadata`` templates added to the title and keywords)
    with one CSV resource, publish it and wait; the dataset's JSON."""
    server.put_object(bucket, key, body)
    connection = client.post(
        f"{API}/datasource_connections/",
        headers=AUTH,
        json={
            "type": "amazon_s3",
            "title": f"moto {title}",
            "url": f"{server.endpoint_url}/{bucket}/",
            "auth": {
                "type": "aws_signature_v4",
                "access_key_id": "AKIAEXPLORE",
                "secret_access_key": "explore-secret",
                "region": "us-east-1",
            },
        },
    )
    assert connection.status_code == 201, connection.text
    metadata = {
        "default": {"title": {"value": title}, "keyword": {"value": list(keywords)}},
        **(metadata or {}),
    }
    dataset = client.post(
        f"{API}/datasets/", headers=AUTH, json={"metadata": metadata, "is_restricted": restricted}
    )
    assert dataset.status_code == 201, dataset.text
    uid = dataset.json()["uid"]
    resource = client.post(
        f"{API}/datasets/{uid}/resources/",
        headers=AUTH,
        json={
            "type": "csvfile",
            "title": key,
            "params": {"separator": ";", "encoding": "utf-8", "headers_first_row": True},
            "datasource": {"type": "amazon_s3", "url": key, "connection": {"uid": connection.json()["uid"]}},
        },
    )
    assert resource.status_code == 201, resource.text
    if publish:
        response = client.post(f"{API}/datasets/{uid}/publish/", headers=AUTH)
        assert response.status_code == 200, response.text
        status = wait_idle(client, uid)
        assert (status["status"], status["is_published"]) == ("idle", True), status["message"]
    found = client.get(f"{API}/datasets/{uid}/", headers=AUTH)
    assert found.status_code == 200, found.text
    return found.json()


@contextmanager
def explore_client(home: Path, server: MotoServer) -> Iterator[TestClient]:
    """An app client whose default requests carry no API key (the Explore API's public face); the
    management calls above pass the admin key explicitly."""
    settings = make_settings(home, allowed_private_hosts=[server.host_port], scheduler_interval=0.2)
    with make_app_client(settings) as client:
        client.headers.pop("Authorization")
        yield client


def asgi_call(
    client: TestClient, path: str, query: dict[str, str], *, disconnect: bool = False
) -> tuple[int | None, dict[str, str], bytes]:
    """A GET sent straight into the app of a started ``client`` (no HTTP client in between: no URL cap).

    With ``disconnect``, the client goes away as soon as the response starts, as a browser closing a
    download does. Returns the status, the headers and whatever body was sent.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(query).encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect:
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert client.portal is not None, "use a started client (inside its with block)"
    client.portal.call(client.app, scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    headers = {k.decode(): v.decode() for k, v in start["headers"]} if start else {}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start["status"] if start else None), headers, body
