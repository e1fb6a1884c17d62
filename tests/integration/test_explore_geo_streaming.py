"""Geo exports of hundreds of thousands of features keep the server's memory bounded: a real
``datawharf serve`` subprocess, a dataset published for real, its version's Parquet file replaced by
400,000 generated points (same schema), the server's peak RSS (VmHWM) read before and after exporting
it as fgb, shp and kml, each file read back with GDAL (pyogrio) or counted."""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest

from datawharf.datasets import catalog
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.integration.test_explore_streaming import peak_rss
from tests.support.app import BOOTSTRAP_KEY
from tests.support.explore import EXPLORE, publish_csv
from tests.support.moto import MotoServer
from tests.support.processes import datawharf_serve

pytestmark = pytest.mark.slow

ROWS = 400_000
MiB = 1024 * 1024


def generated_points(schema: pa.Schema, count: int) -> pa.Table:
    ids = np.arange(count)
    location = pa.StructArray.from_arrays(
        [pa.array(ids % 360 - 180.0 + 0.5), pa.array(ids % 170 - 85.0 + 0.25)],
        fields=list(schema.field("location").type),
    )
    names = pa.array([f"point number {i} of the generated geo streaming test" for i in ids])
    return pa.Table.from_arrays([pa.array(ids, pa.int64()), names, location], schema=schema)


def download(client: httpx2.Client, url: str, target: Path) -> int:
    with client.stream("GET", url) as response, target.open("wb") as out:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            out.write(chunk)
    return target.stat().st_size


def test_geo_exports_of_many_features_keep_memory_bounded(tmp_path: Path, moto_server: MotoServer) -> None:
    home = tmp_path / "home"
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port,
    }
    with (
        datawharf_serve(home, env) as (base_url, process),
        httpx2.Client(base_url=base_url, timeout=300) as client,
    ):
        bucket = moto_server.create_bucket()
        body = b"id;name;location\n1;one;48.85,2.35\n2;two;45.76,4.83\n"
        dataset_id = publish_csv(client, moto_server, bucket, "points.csv", body, "Points")["dataset_id"]
        database = open_database(Settings(home=home))
        try:
            with database.session() as session:
                published = catalog.get_published(session, dataset_id, Settings(home=home))
        finally:
            database.dispose()
        assert published is not None and [f.type for f in published.fields] == ["int", "text", "geo_point_2d"]
        [part] = published.files
        pq.write_table(generated_points(pq.read_schema(part), ROWS), part, row_group_size=64 * 1024)
        assert client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records").json()["total_count"] == ROWS
        exports = f"{EXPLORE}/catalog/datasets/{dataset_id}/exports"
        # GDAL and pyproj load at the first geo export (about 150 MiB, once): counted in the baseline, so
        # the bound measures what the features cost, not the libraries.
        for warm_up in ("fgb", "shp"):
            assert client.get(f"{exports}/{warm_up}", params={"limit": 1}).status_code == 200
        baseline = peak_rss(process.pid)

        fgb = tmp_path / "points.fgb"
        assert download(client, f"{exports}/fgb", fgb) > 20 * MiB
        _meta, table = pyogrio.read_arrow(fgb, columns=["id"], read_geometry=False)
        assert table.num_rows == ROWS and table.column("id")[ROWS - 1].as_py() == ROWS - 1
        assert peak_rss(process.pid) - baseline < 150 * MiB

        shp = tmp_path / "points.zip"
        download(client, f"{exports}/shp", shp)
        meta = pyogrio.read_info(f"/vsizip/{shp}/{dataset_id}.shp")
        assert meta["features"] == ROWS and meta["geometry_type"] == "Point"
        assert {Path(n).suffix for n in zipfile.ZipFile(shp).namelist()} == {
            ".shp",
            ".shx",
            ".dbf",
            ".prj",
            ".cpg",
        }
        assert peak_rss(process.pid) - baseline < 150 * MiB

        kml = tmp_path / "points.kml"
        assert download(client, f"{exports}/kml", kml) > 40 * MiB
        assert kml.read_bytes().count(b"<Placemark>") == ROWS
        assert peak_rss(process.pid) - baseline < 150 * MiB, (baseline // MiB, peak_rss(process.pid) // MiB)
