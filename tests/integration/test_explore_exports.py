"""Explore API v2.1 exports of a dataset published for real, each format read back with its own parser
(csv module, json, pyarrow.parquet, openpyxl): values, types, options, and the ODSQL clauses applied."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.support.explore import (
    EXPLORE,
    FIELDS,
    HEADERS,
    ROWS,
    Row,
    asgi_call,
    csv_bytes,
    expected_record,
    explore_client,
    publish_csv,
)
from tests.support.moto import MotoServer

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Datasets:
    client: TestClient
    items: str
    plain: str  # no geo field

    def export(self, fmt: str, dataset: str | None = None, **params: Any) -> Any:
        url = f"{EXPLORE}/catalog/datasets/{dataset or self.items}/exports/{fmt}"
        return self.client.get(url, params=params)

    def ok(self, fmt: str, **params: Any) -> bytes:
        response = self.export(fmt, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'attachment; filename="{self.items}.{fmt}"'
        return response.content


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Datasets]:
    with explore_client(tmp_path_factory.mktemp("explore-exports"), moto_server) as client:
        bucket = moto_server.create_bucket()
        items = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        plain = publish_csv(client, moto_server, bucket, "plain.csv", b"code;label\n1;one\n2;two\n", "Plain")
        yield Datasets(client, items["dataset_id"], plain["dataset_id"])


def csv_cells(row: Row, zone: ZoneInfo = ZoneInfo("UTC")) -> list[str]:
    """What the csv export writes for ``row``: empty for null, ISO dates, ``lat, lon``, GeoJSON text."""
    lon, lat = row.location
    return [
        str(row.id),
        row.name,
        row.city,
        "" if row.population is None else str(row.population),
        "" if row.surface_km2 is None else repr(row.surface_km2),
        row.founded.isoformat(),
        row.updated.astimezone(zone).isoformat(),
        f"{lat}, {lon}",
        "",  # area: compared parsed, below
    ]


def read_csv(content: bytes, delimiter: str = ";") -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


# -- csv --------------------------------------------------------------------------------------------------
def test_csv_defaults_semicolon_bom_names_every_record(datasets: Datasets) -> None:
    content = datasets.ok("csv")
    assert content.startswith("\ufeff".encode())
    rows = read_csv(content)
    assert rows[0] == FIELDS
    assert len(rows) == 1 + len(ROWS)  # no records limit on exports
    for source, written in zip(ROWS, rows[1:], strict=True):
        assert written[:8] == csv_cells(source)[:8]
        assert (json.loads(written[8]) if written[8] else None) == source.area


def test_csv_delimiter_no_bom_labels_and_clauses(datasets: Datasets) -> None:
    content = datasets.ok(
        "csv",
        delimiter=",",
        with_bom="false",
        use_labels="true",
        select="id, name, surface_km2, updated, id * 10 as ten",
        where="city = 'Paris' and id > 20 or id = 9",
        order_by="id desc",
        limit=3,
        timezone="Europe/Paris",
    )
    assert not content.startswith("\ufeff".encode())
    rows = read_csv(content, delimiter=",")
    assert rows[0] == ["ID", "Name", "Surface (km²)", "Updated", "ten"]
    chosen = sorted((r for r in ROWS if (r.city == "Paris" and r.id > 20) or r.id == 9), key=lambda r: -r.id)
    assert rows[1:] == [
        [str(r.id), r.name, repr(r.surface_km2), r.updated.astimezone(PARIS).isoformat(), str(r.id * 10)]
        for r in chosen
    ]
    assert 'semi;colon "quoted"' in {r[1] for r in rows[1:]}  # quoting survived the round trip


def test_csv_tab_delimiter_and_bad_delimiters(datasets: Datasets) -> None:
    rows = read_csv(datasets.ok("csv", delimiter="\t", select="id, city", limit=2), delimiter="\t")
    assert rows == [["id", "city"], *[[str(r.id), r.city] for r in ROWS[:2]]]
    for bad in (";;", '"', ""):
        response = datasets.export("csv", delimiter=bad)
        assert response.status_code == 400, bad
        assert response.json()["error_code"] == "invalid_delimiter"


# -- json, jsonl, geojson ---------------------------------------------------------------------------------
def test_json_is_the_records_array(datasets: Datasets) -> None:
    assert json.loads(datasets.ok("json")) == [expected_record(r) for r in ROWS]
    assert json.loads(datasets.ok("json", where="id > 1000")) == []
    paris = json.loads(datasets.ok("json", select="id, updated", where="id <= 2", timezone="Europe/Paris"))
    assert paris == [{"id": r.id, "updated": r.updated.astimezone(PARIS).isoformat()} for r in ROWS[:2]]


def test_jsonl_one_record_a_line(datasets: Datasets) -> None:
    lines = datasets.ok("jsonl", order_by="population desc", limit=-1).decode().splitlines()
    ordered = sorted(ROWS, key=lambda r: (r.population is None, -(r.population or 0)))
    assert [json.loads(line) for line in lines] == [expected_record(r) for r in ordered]


def test_geojson_geometry_is_the_shape_else_the_point(datasets: Datasets) -> None:
    collection = json.loads(datasets.ok("geojson"))
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == len(ROWS)
    for source, feature in zip(ROWS, collection["features"], strict=True):
        expected = expected_record(source)
        del expected["area"]  # the dataset has a geo_shape: it is the geometry, as Opendatasoft's
        assert feature == {"type": "Feature", "geometry": source.area, "properties": expected}
    shapes = json.loads(datasets.ok("geojson", select="area, name", where="area is not null"))
    with_area = [r for r in ROWS if r.area is not None]
    assert [f["geometry"] for f in shapes["features"]] == [r.area for r in with_area]
    assert [f["properties"] for f in shapes["features"]] == [{"name": r.name} for r in with_area]
    points = json.loads(datasets.ok("geojson", select="location, name"))  # no shape selected: the point
    assert [f["geometry"] for f in points["features"]] == [
        {"type": "Point", "coordinates": list(r.location)} for r in ROWS
    ]


def test_geojson_needs_a_geo_field(datasets: Datasets) -> None:
    for response in (
        datasets.export("geojson", dataset=datasets.plain),
        datasets.export("geojson", select="id, name"),
    ):
        assert response.status_code == 400
        assert response.json()["error_code"] == "export_needs_geo_field"


# -- parquet, xlsx ----------------------------------------------------------------------------------------
def test_parquet_keeps_the_types(datasets: Datasets) -> None:
    table = pq.read_table(io.BytesIO(datasets.ok("parquet")))
    assert table.column_names == FIELDS
    types = {f.name: f.type for f in table.schema}
    assert types["id"] == pa.int64()
    assert types["surface_km2"] == pa.float64()
    assert types["founded"] == pa.date32()
    assert pa.types.is_timestamp(types["updated"]) and types["updated"].tz is not None
    assert types["location"] == pa.struct([("lon", pa.float64()), ("lat", pa.float64())])
    rows = table.to_pylist()
    assert len(rows) == len(ROWS)
    for source, row in zip(ROWS, rows, strict=True):
        assert row["id"] == source.id and row["name"] == source.name
        assert row["population"] == source.population and row["surface_km2"] == source.surface_km2
        assert row["founded"] == source.founded
        assert row["updated"] == source.updated
        assert row["location"] == {"lon": source.location[0], "lat": source.location[1]}
        assert (json.loads(row["area"]) if row["area"] else None) == source.area


def test_parquet_of_an_aggregate_and_of_nothing(datasets: Datasets) -> None:
    grouped = pq.read_table(io.BytesIO(datasets.ok("parquet", group_by="city", select="city, count(*) as n")))
    counts: dict[str, int] = {}
    for r in ROWS:
        counts[r.city] = counts.get(r.city, 0) + 1
    assert (
        dict(zip(grouped.column("city").to_pylist(), grouped.column("n").to_pylist(), strict=True)) == counts
    )
    empty = pq.read_table(io.BytesIO(datasets.ok("parquet", where="id < 0", select="id, name")))
    assert empty.num_rows == 0
    assert empty.column_names == ["id", "name"]


def test_xlsx_read_back(datasets: Datasets) -> None:
    content = datasets.ok("xlsx", use_labels="true", timezone="Europe/Paris")
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    workbook.close()
    assert list(rows[0]) == HEADERS
    assert len(rows) == 1 + len(ROWS)
    for source, row in zip(ROWS, rows[1:], strict=True):
        lon, lat = source.location
        assert row[0] == source.id and row[1] == source.name and row[2] == source.city
        assert row[3] == source.population and row[4] == source.surface_km2
        assert row[5] == dt.datetime.combine(source.founded, dt.time())
        assert row[6] == source.updated.astimezone(PARIS).replace(tzinfo=None)
        assert row[7] == f"{lat}, {lon}"
        assert (json.loads(row[8]) if row[8] else None) == source.area


# -- errors -----------------------------------------------------------------------------------------------
def test_export_errors_are_json_before_any_byte(datasets: Datasets) -> None:
    unknown = datasets.export("pdf")
    assert unknown.status_code == 400
    assert unknown.json()["error_code"] == "unknown_export_format"
    assert unknown.json()["detail"]["formats"] == [
        *("csv", "json", "jsonl", "geojson", "shp", "kml", "fgb", "gpx", "parquet", "xlsx")
    ]
    for params, code in (
        ({"where": "id = "}, "odsql_syntax_error"),
        ({"limit": -2}, "invalid_limit"),
        ({"select": "nope"}, "unknown_field"),
        ({"timezone": "Nowhere/Land"}, "invalid_timezone"),
    ):
        response = datasets.export("csv", **params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error_code"] == code
    missing = datasets.export("csv", dataset="no-such-dataset")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "dataset_not_found"


def test_a_client_going_away_gives_the_connection_back(datasets: Datasets) -> None:
    engine = datasets.client.app.state.export_engine  # type: ignore[attr-defined]
    url = f"{EXPLORE}/catalog/datasets/{datasets.items}/exports"
    for fmt in ("csv", "json", "parquet", "xlsx", "csv", "csv"):  # more exports than pooled connections
        asgi_call(datasets.client, f"{url}/{fmt}", {}, disconnect=True)
    # given back at once, not whenever the garbage collector finds the abandoned iterators
    assert engine.idle_connections == engine.pool_size
    status, _headers, body = asgi_call(datasets.client, f"{url}/jsonl", {"select": "id"})
    assert status == 200
    assert [json.loads(line)["id"] for line in body.splitlines()] == [r.id for r in ROWS]
    assert engine.idle_connections == engine.pool_size
