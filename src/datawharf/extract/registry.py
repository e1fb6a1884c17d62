"""Every format datawharf reads, by its reference type id.

A plain dict, injected where it is used (``guess_extractors(sample, extractors=EXTRACTORS)``), so a
test can pass its own. Adding a format is adding a module and one line here.
"""

from __future__ import annotations

from datawharf.extract.base import Extractor
from datawharf.extract.csv import CsvExtractor

EXTRACTORS: dict[str, Extractor] = {
    CsvExtractor.name: CsvExtractor(),
}
