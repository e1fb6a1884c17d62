"""``csvfile``: delimited text (.csv .tsv .txt .dat). Work in progress: detection and reading follow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample


class CsvExtractor:
    name: ClassVar[str] = "csvfile"
    label: ClassVar[str] = "CSV"
    description: ClassVar[str] = "Delimited text: comma, semicolon, tab, pipe or space separated values."
    extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt", ".dat")
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = ()

    def detect(self, sample: Sample) -> float:
        return 0.0

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        return {}

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError
