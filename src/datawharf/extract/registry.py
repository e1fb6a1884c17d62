"""Every format datawharf reads, by its reference type id.

A plain dict, injected where it is used (``guess_extractors(sample, extractors=EXTRACTORS)``), so a
test can pass its own. Adding a format is adding a module and one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datawharf.extract.archive import ARCHIVE_PARAMETERS
from datawharf.extract.base import Extractor
from datawharf.extract.csv import CsvExtractor
from datawharf.extract.geojson import GeoJsonExtractor
from datawharf.extract.json import JsonExtractor
from datawharf.extract.jsonl import JsonLinesExtractor
from datawharf.extract.parquet import ParquetExtractor
from datawharf.extract.xls import SpreadsheetExtractor

EXTRACTORS: dict[str, Extractor] = {
    CsvExtractor.name: CsvExtractor(),
    JsonExtractor.name: JsonExtractor(),
    JsonLinesExtractor.name: JsonLinesExtractor(),
    GeoJsonExtractor.name: GeoJsonExtractor(),
    SpreadsheetExtractor.name: SpreadsheetExtractor(),
    ParquetExtractor.name: ParquetExtractor(),
}


# The formats whose values are all text: their field types are guessed. Every other format types its
# values, and a value keeps its type family (``guess_type(typed_source=True)``).
TEXT_SOURCES = frozenset({CsvExtractor.name})


def typed_source(extractor: str) -> bool:
    return extractor not in TEXT_SOURCES


def describe_extractors(extractors: Mapping[str, Extractor] | None = None) -> list[dict[str, Any]]:
    """``GET /extractors/``: the reference ``Extractor`` shape (``type``) plus ``name``, ``description``.

    Every format can sit in an archive, so the archive's ``file_in_archive`` is listed with each.
    """
    registry = extractors if extractors is not None else EXTRACTORS
    return [
        {
            "type": name,
            "name": name,
            "label": extractor.label,
            "description": extractor.description,
            "parameters": [parameter.to_dict() for parameter in (*extractor.parameters, *ARCHIVE_PARAMETERS)],
        }
        for name, extractor in registry.items()
    ]
