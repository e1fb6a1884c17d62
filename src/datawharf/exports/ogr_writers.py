"""Geo formats written by GDAL through pyogrio: ``shp`` (a zipped shapefile), ``fgb`` (FlatGeobuf) and
``gpx`` (``kml`` is ``kml_writer``'s: GDAL's KML driver holds the whole document in memory).

Each DuckDB batch becomes an Arrow batch of the feature's properties (the other columns, as the csv
export writes them: datetimes as ISO text, geo points as ``lat, lon``) and its geometry as WKB
(``geometry.py``: the geo_shape, else the geo_point_2d; reprojected into ``epsg`` for shp and fgb).
GDAL reads those batches as a stream (``write_arrow`` of a ``RecordBatchReader``) into a file in a
temporary folder, which is then sent in chunks and removed, as the xlsx export does: these formats
end with an index or a header that needs the whole file. FlatGeobuf is written without its spatial
index (which would hold every feature in memory).

A shapefile holds one geometry type: features are written to one shapefile a geometry family (point,
multipoint, line, polygon), appended batch after batch, and the zip holds ``<dataset_id>.shp`` (or
``<dataset_id>_<family>.shp`` when there are several) with its .shx, .dbf, .prj, .cpg. Its limits are
met before GDAL would warn: field names cut to 10 bytes (kept unique), texts to 254 bytes; geometry
collections, which no shapefile type holds, are written without a geometry. GPX holds waypoints: each
record's geo_point_2d (when the dataset has one), else a point on its shape; records without one are
left out, and the other columns go into each waypoint's ``<extensions>`` (a column named as a GPX field,
``name``, ``desc``..., as ``name_``: GDAL's Arrow path cannot fill the predefined fields).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from datawharf.exports.context import ExportContext
from datawharf.exports.csv_writer import text_safe
from datawharf.exports.geometry import WGS84, Projection, geometries, geometry_column

CHUNK = 1024 * 1024
SHAPES_FIRST = ("geo_shape", "geo_point_2d")
POINTS_FIRST = ("geo_point_2d", "geo_shape")
# A GPX waypoint's own fields: a column of that name is written as ``<name>_`` in its extensions.
GPX_FIELDS = {
    "ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "sym", "type", "fix", "sat", "hdop",
    "vdop", "pdop", "ageofdgpsdata", "dgpsid",
}  # fmt: skip
GEOMETRY = "geometry"
SHP_NAME_BYTES = 10
SHP_TEXT_BYTES = 254
# shapely type id -> shapefile family (a shapefile holds one); 7 (geometry collection): none.
FAMILIES = {0: "point", 4: "multipoint", 1: "line", 2: "line", 5: "line", 3: "polygon", 6: "polygon"}
LAYER_TYPES = {
    "point": "Point",
    "multipoint": "MultiPoint",
    "line": "MultiLineString",
    "polygon": "MultiPolygon",
}


def _gdal() -> ModuleType:
    """pyogrio, imported at the first geo export: it loads GDAL, about 120 MiB resident, which a server
    that never writes shp, fgb or gpx should not carry."""
    import pyogrio

    return pyogrio


def _projection(context: ExportContext) -> Projection:
    return context.projection or Projection(WGS84)


def _features(
    context: ExportContext, batch: pa.RecordBatch, geo: int, names: list[str]
) -> tuple[pa.Table, Any]:
    """The batch's properties (every column but the geometry, text-safe) and its shapely geometries."""
    geoms = _projection(context).apply(geometries(batch.column(geo), context.columns[geo].type))
    arrays = {
        names[i]: text_safe(batch.column(i), context.columns[i].type, context)
        for i in range(batch.num_columns)
        if i != geo
    }
    return pa.table(arrays), geoms


def _with_geometry(properties: pa.Table, geoms: Any) -> pa.Table:
    wkb = shapely.to_wkb(geoms)
    return properties.append_column(GEOMETRY, pa.array(list(wkb), pa.binary()))


def _stream_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


def _crs(context: ExportContext) -> str:
    return f"EPSG:{_projection(context).epsg}"


def _write_streamed(
    context: ExportContext,
    batches: Iterable[pa.RecordBatch],
    driver: str,
    suffix: str,
    *,
    points_only: bool = False,
    **options: Any,
) -> Iterator[bytes]:
    """One GDAL write of the batches as they come, into a temporary file, then sent."""
    geo = geometry_column(context.columns, suffix, POINTS_FIRST if points_only else SHAPES_FIRST)
    names = [f"{n}_" if points_only and n.lower() in GPX_FIELDS else n for n in context.headers]
    properties_schema = pa.schema(
        [pa.field(names[i], _safe_type(context, i)) for i in range(len(context.columns)) if i != geo]
    )
    schema = properties_schema.append(pa.field(GEOMETRY, pa.binary()))

    def converted() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            properties, geoms = _features(context, batch, geo, names)
            if points_only:  # GPX: waypoints, each with a point
                geoms = _as_points(geoms)
                kept = ~shapely.is_missing(geoms)
                properties, geoms = properties.filter(pa.array(kept)), geoms[kept]
            yield from _with_geometry(properties, geoms).cast(schema).to_batches()

    with tempfile.TemporaryDirectory(prefix=f"datawharf-{suffix}-") as tmp:
        path = Path(tmp) / f"{context.dataset_id}.{suffix}"
        reader = pa.RecordBatchReader.from_batches(schema, converted())
        _gdal().write_arrow(
            reader,
            path,
            layer=context.dataset_id,
            driver=driver,
            geometry_name=GEOMETRY,
            geometry_type="Point" if points_only else "Unknown",
            crs=_crs(context),
            **options,
        )
        yield from _stream_file(path)


def _safe_type(context: ExportContext, index: int) -> pa.DataType:
    """The Arrow type of a property column once ``text_safe`` converted it."""
    kind = context.columns[index].type
    if kind in ("datetime", "geo_point_2d"):
        return pa.string()
    field_type: pa.DataType = context.schema.field(index).type
    return field_type


def _as_points(geoms: Any) -> Any:
    """Points as they are; any other geometry as a point on its surface (GPX holds waypoints)."""
    points = np.asarray(geoms, dtype=object)
    other = ~shapely.is_missing(points) & (shapely.get_type_id(points) != 0)
    if other.any():
        points[other] = shapely.point_on_surface(points[other])
    return points


def write_fgb(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    return _write_streamed(context, batches, "FlatGeobuf", "fgb", layer_options={"SPATIAL_INDEX": "NO"})


def write_gpx(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    return _write_streamed(
        context, batches, "GPX", "gpx", points_only=True, dataset_options={"GPX_USE_EXTENSIONS": "YES"}
    )


# -- shapefile --------------------------------------------------------------------------------------------
def shapefile_names(names: list[str]) -> list[str]:
    """Field names a .dbf holds: at most 10 bytes, unique (``name``, ``name_1``...). Hand-written:
    GDAL would cut them too, but warns, and then the Arrow columns no longer match its fields."""
    taken: set[str] = set()
    out = []
    for name in names:
        base = name.encode()[:SHP_NAME_BYTES].decode(errors="ignore") or "field"
        candidate, n = base, 0
        while candidate.lower() in taken:
            n += 1
            tail = f"_{n}"
            candidate = base.encode()[: SHP_NAME_BYTES - len(tail)].decode(errors="ignore") + tail
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def _short_texts(array: pa.Array) -> pa.Array:
    """Texts cut to the 254 bytes a .dbf field holds (on a character boundary)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    long = pc.fill_null(pc.greater(pc.binary_length(array), SHP_TEXT_BYTES), False)
    if not pc.any(long).as_py():
        return array
    values = array.to_pylist()
    for i in np.flatnonzero(long.to_numpy(zero_copy_only=False)):
        values[i] = values[i].encode()[:SHP_TEXT_BYTES].decode(errors="ignore")
    return pa.array(values, pa.string())


def write_shp(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    geo = geometry_column(context.columns, "shp")
    names = shapefile_names(context.headers)
    main = "point" if context.columns[geo].type == "geo_point_2d" else "polygon"
    with tempfile.TemporaryDirectory(prefix="datawharf-shp-") as tmp:
        folder = Path(tmp)
        written: list[str] = []
        for batch in batches:
            if batch.num_rows == 0:
                continue
            properties, geoms = _features(context, batch, geo, names)
            properties = pa.table(
                {n: _short_texts(c) for n, c in zip(properties.column_names, properties.columns, strict=True)}
            )
            type_ids = shapely.get_type_id(geoms)
            families = np.array([FAMILIES.get(int(t), "") for t in type_ids], dtype=object)
            if not written and (families != "").any():
                main = str(families[families != ""][0])
            nowhere = families == ""
            geoms = np.where(nowhere, None, geoms)
            families[nowhere] = main  # nulls and collections: without a geometry, in the main file
            for family in dict.fromkeys(families.tolist()):
                chosen = families == family
                table = _with_geometry(properties.filter(pa.array(chosen)), geoms[chosen])
                _gdal().write_arrow(
                    table,
                    folder / f"{family}.shp",
                    driver="ESRI Shapefile",
                    geometry_name=GEOMETRY,
                    geometry_type=LAYER_TYPES[str(family)],
                    crs=_crs(context),
                    encoding="UTF-8",
                    append=family in written,
                )
                if family not in written:
                    written.append(str(family))
        if not written:  # no record: an empty shapefile of the column's family
            empty = pa.table(
                {n: pa.array([], _safe_type(context, i)) for i, n in enumerate(names) if i != geo}
            )
            _gdal().write_arrow(
                _with_geometry(empty, np.array([], dtype=object)),
                folder / f"{main}.shp",
                driver="ESRI Shapefile",
                geometry_name=GEOMETRY,
                geometry_type=LAYER_TYPES[main],
                crs=_crs(context),
                encoding="UTF-8",
            )
            written.append(main)
        archive = folder / "export.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for family in written:
                stem = context.dataset_id if len(written) == 1 else f"{context.dataset_id}_{family}"
                for part in sorted(folder.glob(f"{family}.*")):
                    out.write(part, f"{stem}{part.suffix}")
        yield from _stream_file(archive)
