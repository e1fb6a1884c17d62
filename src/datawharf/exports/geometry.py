"""The geometry of geo exports: which column gives it, as shapely geometries, reprojected with pyproj.

A feature's geometry is the dataset's geo_shape when one is selected, else its geo_point_2d (as
Opendatasoft's geo exports do); the other columns are its properties. Values are stored in WGS 84
(EPSG:4326, lon/lat): ``epsg`` reprojects them for the formats that carry a coordinate system.
Vectorized per batch: shapely builds and transforms a whole column at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from datawharf.errors import InvalidInput
from datawharf.odsql import OutputColumn

WGS84 = 4326


def geometry_column(
    columns: Sequence[OutputColumn], format_name: str, prefer: tuple[str, ...] = ("geo_shape", "geo_point_2d")
) -> int:
    """The index of the column that gives each feature its geometry: the first geo_shape selected, else
    the first geo_point_2d (``prefer`` the other way round: GPX, whose features are points)."""
    for wanted in prefer:
        for index, column in enumerate(columns):
            if column.type == wanted:
                return index
    raise InvalidInput(
        f"A {format_name} export needs a geo_point_2d or geo_shape field among the selected columns; this "
        "dataset or this select has none. Select the geo field, or export as csv or json.",
        error_code="export_needs_geo_field",
        detail={"format": format_name},
    )


def geometries(array: pa.Array, column_type: str) -> Any:
    """A column as a numpy array of shapely geometries (None where the value is null)."""
    if column_type == "geo_point_2d":
        lon = np.asarray(pc.struct_field(array, "lon").to_numpy(zero_copy_only=False), dtype=float)
        lat = np.asarray(pc.struct_field(array, "lat").to_numpy(zero_copy_only=False), dtype=float)
        points = np.asarray(shapely.points(lon, lat), dtype=object)
        points[np.isnan(lon) | np.isnan(lat)] = None
        return points
    texts = np.array(array.to_pylist(), dtype=object)
    return shapely.from_geojson(texts, on_invalid="ignore")


class Projection:
    """Geometries from WGS 84 into ``epsg`` (pyproj; lon/lat order in and x/y out, whatever the axes)."""

    def __init__(self, epsg: int) -> None:
        # pyproj (about 25 MiB resident, its database opened) is imported by the first reprojection only.
        from pyproj import CRS, Transformer
        from pyproj.exceptions import CRSError

        try:
            self.crs = CRS.from_epsg(epsg)
        except CRSError as error:
            raise InvalidInput(
                f"EPSG:{epsg} is no coordinate reference system pyproj knows; use 4326 (WGS 84, the "
                "default), 3857 (Web Mercator) or another EPSG code.",
                error_code="unknown_epsg",
                detail={"epsg": epsg},
            ) from error
        if self.crs.is_geocentric or not (self.crs.is_geographic or self.crs.is_projected):
            raise InvalidInput(
                f"EPSG:{epsg} ({self.crs.name}) is not a two-dimensional geographic or projected system: "
                "geometries cannot be written in it. Use 4326, 3857 or a projected system (e.g. 2154).",
                error_code="unsupported_epsg",
                detail={"epsg": epsg},
            )
        self.epsg = epsg
        self._transformer = Transformer.from_crs(WGS84, self.crs, always_xy=True)

    @property
    def identity(self) -> bool:
        return self.epsg == WGS84

    def apply(self, geoms: Any) -> Any:
        if self.identity:
            return geoms
        return shapely.transform(geoms, self._xy)

    def _xy(self, coords: Any) -> Any:
        x, y = self._transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])
