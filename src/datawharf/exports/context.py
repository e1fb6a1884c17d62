"""What every export writer is given: the result's columns, their headers, the timezone, the options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pyarrow as pa

from datawharf.errors import InvalidInput
from datawharf.odsql import OutputColumn

GEO_TYPES = ("geo_point_2d", "geo_shape")
PARQUET_COMPRESSIONS = ("snappy", "zstd")


@dataclass(frozen=True)
class ExportOptions:
    """The format options of the Explore API v2.1 exports (csv reads the first three, parquet the last)."""

    delimiter: str = ";"
    with_bom: bool = True
    use_labels: bool = False
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


@dataclass(frozen=True)
class ExportContext:
    columns: list[OutputColumn]
    headers: list[str]  # the columns' names, or the fields' labels with use_labels
    zone: ZoneInfo
    options: ExportOptions
    schema: pa.Schema  # of the batches DuckDB streams
    dataset_id: str
    published: dt.datetime | None = None  # when the dataset's current version was published


Writer = Callable[[ExportContext, Iterable[pa.RecordBatch]], Iterator[bytes]]
