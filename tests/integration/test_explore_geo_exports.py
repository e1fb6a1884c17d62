"""Geo exports written by GDAL (pyogrio): shp (zipped), kml, fgb, gpx, read back with pyogrio (GDAL's
readers), ElementTree and zipfile, and compared with the rows the datasets were published from:
geometries (the geo_shape, else the geo_point_2d), properties, reprojection (epsg), one shapefile a
geometry family, and the specific 400s."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from tests.support.explore import EXPLORE, ROWS, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer

SHAPES = [  # code -> a geometry of each family, and a collection no shapefile holds
    (1, {"type": "Point", "coordinates": [2.35, 48.85]}),
    (2, {"type": "LineString", "coordinates": [[2.3, 48.8], [2.4, 48.9]]}),
    (3, {"type": "Polygon", "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 48.0]]]}),
    (4, {"type": "Point", "coordinates": [4.83, 45.76]}),
    (5, {"type": "MultiPolygon", "coordinates": [[[[5.0, 43.0], [6.0, 43.0], [6.0, 44.0], [5.0, 43.0]]]]}),
]


@dataclass(frozen=True)
class Datasets:
    client: TestClient
    items: str
    shapes: str
    plain: str

    def get(self, dataset: str, fmt: str, **params: Any) -> Any:
        return self.client.get(f"{EXPLORE}/catalog/datasets/{dataset}/exports/{fmt}", params=params)

    def ok(self, dataset: str, fmt: str, tmp_path: Path, **params: Any) -> Path:
        response = self.get(dataset, fmt, **params)
        assert response.status_code == 200, response.text
        extension = "zip" if fmt == "shp" else fmt
        assert response.headers["content-disposition"] == f'attachment; filename="{dataset}.{extension}"'
        path = tmp_path / f"{dataset}.{extension}"
        path.write_bytes(response.content)
        return path


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Datasets]:
    with explore_client(tmp_path_factory.mktemp("geo-exports"), moto_server) as client:
        bucket = moto_server.create_bucket()
        items = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        lines = ["code;label;shape"] + [
            f'{c};shape {c};"{json.dumps(g).replace(chr(34), 2 * chr(34))}"' for c, g in SHAPES
        ]
        shapes = publish_csv(
            client, moto_server, bucket, "shapes.csv", ("\n".join(lines) + "\n").encode(), "Shapes"
        )
        plain = publish_csv(client, moto_server, bucket, "plain.csv", b"code;label\n1;one\n", "Plain")
        yield Datasets(client, items["dataset_id"], shapes["dataset_id"], plain["dataset_id"])


def _read(path: str | Path, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """(metadata, the features' properties, their shapely geometries) as GDAL reads the file."""
    meta, table = pyogrio.read_arrow(path, **kwargs)
    geometry = meta["geometry_name"] or "wkb_geometry"
    geoms = shapely.from_wkb(table.column(geometry).to_pylist())
    return meta, table.drop_columns([geometry]).to_pylist(), list(geoms)


# -- shp ---------------------------------------------------------------------------------------------------
def test_shp_is_a_zipped_shapefile_of_the_shapes(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.items, "shp", tmp_path, order_by="id")
    stem = datasets.items
    assert sorted(zipfile.ZipFile(path).namelist()) == sorted(
        f"{stem}.{e}" for e in ("cpg", "dbf", "prj", "shp", "shx")
    )
    meta, properties, geoms = _read(f"/vsizip/{path}/{stem}.shp")
    assert meta["crs"] == "EPSG:4326"
    assert len(properties) == len(ROWS)
    for source, props, geom in zip(ROWS, properties, geoms, strict=True):
        assert props["id"] == source.id and props["name"] == source.name and props["city"] == source.city
        assert props["population"] == source.population
        assert props["location"] == f"{source.location[1]}, {source.location[0]}"  # the point: a property
        if source.area is None:
            assert geom is None
        else:
            assert shapely.equals(geom, shapely.geometry.shape(source.area))
    assert [name for name in meta["fields"]] == [
        "id",
        "name",
        "city",
        "population",
        "surface_km",
        "founded",
        "updated",
        "location",
    ]


def test_shp_of_points_reprojected(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.items, "shp", tmp_path, select="id, location", order_by="id", epsg=3857)
    meta, properties, geoms = _read(f"/vsizip/{path}/{datasets.items}.shp")
    assert meta["crs"] == "EPSG:3857" and meta["geometry_type"] == "Point"
    mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    for source, geom in zip(ROWS, geoms, strict=True):
        assert (geom.x, geom.y) == pytest.approx(mercator.transform(*source.location), abs=1e-3)
    assert [p["id"] for p in properties] == [r.id for r in ROWS]


def test_shp_one_shapefile_a_geometry_family(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.shapes, "shp", tmp_path)
    stem = datasets.shapes
    names = zipfile.ZipFile(path).namelist()
    assert {n.rsplit(".", 1)[0] for n in names} == {f"{stem}_point", f"{stem}_line", f"{stem}_polygon"}
    by_code = dict(SHAPES)
    for family, codes in (("point", {1, 4}), ("line", {2}), ("polygon", {3, 5})):
        _meta, properties, geoms = _read(f"/vsizip/{path}/{stem}_{family}.shp")
        assert {p["code"] for p in properties} == codes
        for props, geom in zip(properties, geoms, strict=True):
            assert props["label"] == f"shape {props['code']}"
            assert shapely.equals(geom, shapely.geometry.shape(by_code[props["code"]]))


# -- kml, fgb, gpx -----------------------------------------------------------------------------------------
def test_kml_placemarks(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.shapes, "kml", tmp_path, order_by="code")
    kml = "{http://www.opengis.net/kml/2.2}"
    placemarks = ET.parse(path).getroot().findall(f".//{kml}Placemark")
    data = [{d.get("name"): d.findtext(f"{kml}value") for d in p.iter(f"{kml}Data")} for p in placemarks]
    assert data == [{"code": str(c), "label": f"shape {c}"} for c, _g in SHAPES]
    _meta, _properties, geoms = _read(path)  # GDAL reads the geometries back
    for (_code, geometry), geom in zip(SHAPES, geoms, strict=True):
        assert shapely.equals(geom, shapely.geometry.shape(geometry))
    points = datasets.ok(datasets.items, "kml", tmp_path / "..", select="id, location", order_by="id")
    _meta, _properties, geoms = _read(points)
    assert [(g.x, g.y) for g in geoms] == [r.location for r in ROWS]


def test_fgb_features_and_reprojection(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.shapes, "fgb", tmp_path, order_by="code")
    meta, properties, geoms = _read(path)
    assert meta["crs"] == "EPSG:4326"
    assert [p["code"] for p in properties] == [c for c, _g in SHAPES]
    for (_code, geometry), geom in zip(SHAPES, geoms, strict=True):
        assert shapely.equals(geom, shapely.geometry.shape(geometry))
    projected = datasets.ok(datasets.shapes, "fgb", tmp_path / "..", order_by="code", epsg=3857)
    meta, _properties, geoms = _read(projected)
    assert meta["crs"] == "EPSG:3857"
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(2.35, 48.85)
    assert (geoms[0].x, geoms[0].y) == pytest.approx((x, y), abs=1e-3)


def test_gpx_waypoints_are_the_points(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.items, "gpx", tmp_path, order_by="id")
    gpx, ogr = "{http://www.topografix.com/GPX/1/1}", "{http://osgeo.org/gdal}"
    waypoints = ET.parse(path).getroot().findall(f"{gpx}wpt")
    assert [(float(w.get("lon", "")), float(w.get("lat", ""))) for w in waypoints] == [
        pytest.approx(r.location) for r in ROWS
    ]
    extensions = [w.find(f"{gpx}extensions") for w in waypoints]
    assert [e.findtext(f"{ogr}name_") for e in extensions if e is not None] == [r.name for r in ROWS]
    assert [e.findtext(f"{ogr}city") for e in extensions if e is not None] == [r.city for r in ROWS]
    _meta, properties, geoms = _read(path, layer="waypoints")  # GDAL reads it back: the extensions as ogr_*
    assert [p["ogr_id"] for p in properties] == [r.id for r in ROWS]
    shapes = datasets.ok(datasets.shapes, "gpx", tmp_path / "..", order_by="code")  # no point field
    _meta, properties, geoms = _read(shapes, layer="waypoints")
    assert len(geoms) == len(SHAPES)
    for (_code, geometry), geom in zip(SHAPES, geoms, strict=True):
        assert shapely.geometry.shape(geometry).buffer(1e-9).contains(geom)  # a point on each shape


# -- the list, errors --------------------------------------------------------------------------------------
def test_the_exports_list_has_the_geo_formats_only_for_geo_datasets(datasets: Datasets) -> None:
    def rels(dataset: str) -> list[str]:
        body = datasets.client.get(f"{EXPLORE}/catalog/datasets/{dataset}/exports").json()
        return [link["rel"] for link in body["links"]]

    assert {"shp", "kml", "fgb", "gpx", "geojson"} <= set(rels(datasets.items))
    assert not {"shp", "kml", "fgb", "gpx", "geojson"} & set(rels(datasets.plain))


@pytest.mark.parametrize("fmt", ["shp", "kml", "fgb", "gpx"])
def test_geo_exports_need_a_geo_field(datasets: Datasets, fmt: str) -> None:
    for response in (datasets.get(datasets.plain, fmt), datasets.get(datasets.items, fmt, select="id, name")):
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "export_needs_geo_field"
        assert fmt in response.json()["message"]


@pytest.mark.parametrize("fmt", ["kml", "gpx"])
def test_kml_and_gpx_are_wgs84_only(datasets: Datasets, fmt: str) -> None:
    response = datasets.get(datasets.items, fmt, epsg=3857)
    assert response.status_code == 400
    assert response.json()["error_code"] == "epsg_not_supported_by_format"


def test_an_empty_shp_is_still_a_shapefile(datasets: Datasets, tmp_path: Path) -> None:
    path = datasets.ok(datasets.items, "shp", tmp_path, where="id < 0")
    _meta, properties, _geoms = _read(f"/vsizip/{path}/{datasets.items}.shp")
    assert properties == []
    assert io.BytesIO(path.read_bytes()).getbuffer().nbytes > 0


@pytest.mark.parametrize(
    "params", [{"name_field": "name"}, {"description_field_list": "city"}, {"use_extension": "false"}]
)
def test_gpx_options_gdal_cannot_honour_are_refused(datasets: Datasets, params: dict[str, str]) -> None:
    response = datasets.get(datasets.items, "gpx", **params)
    assert response.status_code == 400
    assert response.json()["error_code"] == "gpx_option_not_supported"
    assert list(response.json()["detail"]) == list(params)
    assert datasets.get(datasets.items, "gpx", use_extension="true", limit=1).status_code == 200
