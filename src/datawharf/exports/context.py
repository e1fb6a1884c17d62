"""What every export writer is given: the result's columns, their headers, the timezone, the options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pyarrow as pa

from datawharf.errors import InvalidInput
from datawharf.exports.geometry import Projection
from datawharf.odsql import OutputColumn

GEO_TYPES = ("geo_point_2d", "geo_shape")
PARQUET_COMPRESSIONS = ("snappy", "zstd")


@dataclass(frozen=True)
class ExportOptions:
    """The format options of the Explore API v2.1 exports: csv reads ``delimiter``, ``with_bom`` and
    ``quote_all``; csv and xlsx ``use_labels``; the text formats ``list_separator`` (the values of a
    multivalued field joined); parquet ``parquet_compression``."""

    delimiter: str = ";"
    with_bom: bool = True
    use_labels: bool = False
    quote_all: bool = False
    list_separator: str = ","
    epsg: int = 4326  # the coordinate system of geo formats' geometries (stored in WGS 84)
    parquet_compression: str = "snappy"  # the reference's default; or zstd

    def __post_init__(self) -> None:
        if self.parquet_compression not in PARQUET_COMPRESSIONS:
            raise InvalidInput(
                f"parquet_compression must be snappy or zstd, got {self.parquet_compression[:20]!r}.",
                error_code="invalid_parquet_compression",
                detail={"parquet_compression": ["must be snappy or zstd"]},
            )
        if len(self.delimiter) != 1 or self.delimiter in '"\r\n':
            raise InvalidInput(
                f"delimiter must be one character other than a quote or a line break, got "
                f"{self.delimiter[:10]!r}; use ';' (the default), ',', '|' or a tab.",
                error_code="invalid_delimiter",
                detail={"delimiter": ["must be one character"]},
            )
        if not 1 <= len(self.list_separator) <= 10 or any(c in self.list_separator for c in "\r\n"):
            raise InvalidInput(
                f"list_separator must be 1 to 10 characters without a line break, got "
                f"{self.list_separator[:10]!r}; use ',' (the default), ';' or '|'.",
                error_code="invalid_list_separator",
                detail={"list_separator": ["must be 1 to 10 characters"]},
            )


@dataclass(frozen=True)
class ExportContext:
    columns: list[OutputColumn]
    headers: list[str]  # the columns' names, or the fields' labels with use_labels
    zone: ZoneInfo
    options: ExportOptions
    schema: pa.Schema  # of the batches DuckDB streams
    dataset_id: str
    projection: Projection | None = None  # geo formats: into the asked ``epsg`` (None: WGS 84 as stored)
    published: dt.datetime | None = None  # when the dataset's current version was published


Writer = Callable[[ExportContext, Iterable[pa.RecordBatch]], Iterator[bytes]]
