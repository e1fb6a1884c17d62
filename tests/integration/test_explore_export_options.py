"""Dataset export options, each checked per format on a dataset published for real and read back with an
independent reader (csv, openpyxl, pyogrio/GDAL): ``quote_all``, ``use_labels``, ``list_separator`` on a
multivalued field, ``epsg`` (reprojection, compared with pyproj's transform of the source points)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from tests.support.app import AUTH
from tests.support.explore import API, EXPLORE, ROWS, csv_bytes, explore_client, publish_csv, wait_idle
from tests.support.moto import MotoServer

TAGS = [(1, "red|green|blue", "Alpha"), (2, "green", "Beta"), (3, "", "Gamma"), (4, " blue | red ", "Delta")]


@dataclass(frozen=True)
class Datasets:
    client: TestClient
    items: str
    tags: str

    def ok(self, dataset: str, fmt: str, **params: Any) -> bytes:
        response = self.client.get(f"{EXPLORE}/catalog/datasets/{dataset}/exports/{fmt}", params=params)
        assert response.status_code == 200, response.text
        return response.content

    def error(self, dataset: str, fmt: str, **params: Any) -> str:
        response = self.client.get(f"{EXPLORE}/catalog/datasets/{dataset}/exports/{fmt}", params=params)
        assert response.status_code == 400, response.text
        return str(response.json()["error_code"])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Datasets]:
    with explore_client(tmp_path_factory.mktemp("export-options"), moto_server) as client:
        bucket = moto_server.create_bucket()
        items = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        body = "code;tags;name\n" + "".join(f"{c};{t};{n}\n" for c, t, n in TAGS)
        tags = publish_csv(client, moto_server, bucket, "tags.csv", body.encode(), "Tags", publish=False)
        config = {
            "type": "annotate",
            "label": "m",
            "field": "tags",
            "annotation": "multivalued",
            "args": ["|"],
        }
        assert (
            client.post(f"{API}/datasets/{tags['uid']}/fields/", json=config, headers=AUTH).status_code == 201
        )
        assert client.post(f"{API}/datasets/{tags['uid']}/publish/", headers=AUTH).status_code == 200
        assert wait_idle(client, tags["uid"])["status"] == "idle"
        yield Datasets(client, items["dataset_id"], tags["dataset_id"])


def _values(text: str, joiner: str) -> str:
    return joiner.join(v.strip() for v in text.split("|")) if text else ""


# -- quote_all, use_labels ---------------------------------------------------------------------------------
def test_quote_all_quotes_every_value_and_reads_back_the_same(datasets: Datasets) -> None:
    plain = datasets.ok(datasets.items, "csv", select="id, name, population", with_bom="false")
    quoted = datasets.ok(
        datasets.items, "csv", select="id, name, population", with_bom="false", quote_all="true"
    )
    assert plain.decode().splitlines()[1] == f'{ROWS[0].id};"{ROWS[0].name}";{ROWS[0].population}'
    lines = quoted.decode().splitlines()
    assert lines[0] == '"id";"name";"population"'
    assert lines[1] == f'"{ROWS[0].id}";"{ROWS[0].name}";"{ROWS[0].population}"'
    row7 = lines[7].split(";")  # id 7 has no population: a null stays an empty, unquoted cell
    assert row7[0] == '"7"' and row7[2] == ""
    assert list(csv.reader(io.StringIO(quoted.decode()), delimiter=";")) == list(
        csv.reader(io.StringIO(plain.decode()), delimiter=";")
    )


def test_use_labels_renames_the_headers_of_csv_and_xlsx_only(datasets: Datasets) -> None:
    header = datasets.ok(datasets.items, "csv", use_labels="true", select="id, surface_km2").decode(
        "utf-8-sig"
    )
    assert next(csv.reader(io.StringIO(header), delimiter=";")) == ["ID", "Surface (km²)"]
    sheet = openpyxl.load_workbook(io.BytesIO(datasets.ok(datasets.items, "xlsx", use_labels="true"))).active
    assert next(sheet.iter_rows(values_only=True))[:2] == ("ID", "Name")
    records = json.loads(datasets.ok(datasets.items, "json", use_labels="true", select="id"))
    assert records[0] == {"id": ROWS[0].id}  # json keeps the field names


# -- list_separator ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("joiner", [",", " / ", ";"])
def test_list_separator_joins_multivalued_values_in_csv(datasets: Datasets, joiner: str) -> None:
    params = {} if joiner == "," else {"list_separator": joiner}
    content = datasets.ok(datasets.tags, "csv", order_by="code", **params).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content), delimiter=";"))
    assert rows[0] == ["code", "tags", "name"]
    assert [r[1] for r in rows[1:]] == [_values(t, joiner) for _c, t, _n in TAGS]
    assert [r[2] for r in rows[1:]] == [n for _c, _t, n in TAGS]  # a plain text is left alone


def test_list_separator_in_xlsx_and_not_in_json(datasets: Datasets) -> None:
    content = datasets.ok(datasets.tags, "xlsx", order_by="code", list_separator=" + ")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [row[1] for row in list(sheet.iter_rows(values_only=True))[1:]]
    assert cells == [_values(t, " + ") or None for _c, t, _n in TAGS]
    records = json.loads(datasets.ok(datasets.tags, "json", order_by="code", list_separator=" + "))
    assert [r["tags"] for r in records] == [t or None for _c, t, _n in TAGS]  # json keeps the source text


# -- epsg --------------------------------------------------------------------------------------------------
def _read(content: bytes, tmp_path: Any, name: str) -> tuple[dict[str, Any], Any]:
    path = tmp_path / name
    path.write_bytes(content)
    return pyogrio.read_arrow(path)


def test_epsg_3857_reprojects_geojson_points_and_shapes(datasets: Datasets, tmp_path: Any) -> None:
    mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    content = datasets.ok(datasets.items, "geojson", epsg=3857, select="id, location", order_by="id")
    meta, table = _read(content, tmp_path, "points.geojson")
    assert meta["crs"] == "EPSG:3857"
    points = shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry").to_pylist())
    for source, point in zip(ROWS, points, strict=True):
        x, y = mercator.transform(*source.location)
        assert (point.x, point.y) == pytest.approx((x, y), abs=1e-3)
    shapes = json.loads(
        datasets.ok(datasets.items, "geojson", epsg=3857, where="area is not null", order_by="id")
    )
    for source, feature in zip([r for r in ROWS if r.area], shapes["features"], strict=True):
        assert source.area is not None
        ring = feature["geometry"]["coordinates"][0]
        expected = [list(mercator.transform(lon, lat)) for lon, lat in source.area["coordinates"][0]]
        assert ring == [pytest.approx(p, abs=1e-3) for p in expected]


def test_epsg_4326_is_the_default_and_any_format_takes_it(datasets: Datasets) -> None:
    default = json.loads(datasets.ok(datasets.items, "geojson", select="location", limit=1))
    explicit = json.loads(datasets.ok(datasets.items, "geojson", select="location", limit=1, epsg=4326))
    assert default == explicit and "crs" not in default
    assert default["features"][0]["geometry"]["coordinates"] == list(ROWS[0].location)
    assert datasets.ok(datasets.items, "csv", epsg=4326, select="id", limit=1)


def test_bad_epsg_are_specific_errors(datasets: Datasets) -> None:
    assert datasets.error(datasets.items, "geojson", epsg=999999) == "unknown_epsg"
    assert datasets.error(datasets.items, "geojson", epsg=4978) == "unsupported_epsg"  # geocentric
    assert datasets.error(datasets.items, "csv", epsg=3857) == "epsg_not_supported_by_format"
    assert datasets.error(datasets.items, "csv", list_separator="") == "invalid_list_separator"
