"""What every catalog export writer is given: where the API is, and the request's options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import modified
from datawharf.exports import ExportOptions, dataset_formats

# The reference's ``lang`` values, with their ISO 639-2 codes (the EU language authority's URIs).
LANGS = {
    "en": "ENG", "fr": "FRA", "nl": "NLD", "pt": "POR", "it": "ITA", "ar": "ARA", "de": "DEU", "es": "SPA",
    "ca": "CAT", "eu": "EUS", "sv": "SWE",
}  # fmt: skip


def texts(value: Any) -> list[str]:
    """A metadata value as the texts it holds: a list's non-empty items, a single value, or none."""
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)] if value not in (None, "") else []


def newest(datasets: Sequence[PublishedDataset]) -> dt.datetime | None:
    """When the catalog last changed: the latest of its datasets' modification dates."""
    return max((m for m in map(modified, datasets) if m is not None), default=None)


@dataclass(frozen=True)
class CatalogContext:
    api_root: str  # the absolute URL of /api/explore/v2.1 as the request reached it
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # set by open_catalog_export
    options: ExportOptions = field(default_factory=ExportOptions)
    lang: str | None = None  # tags the texts (RDF literals, RSS); else each dataset's own language
    include_exports: tuple[str, ...] | None = None  # DCAT: the distributions listed (None: all)
    use_labels_in_exports: bool = True  # DCAT: csv/xlsx distributions' URLs ask for field labels
    profile: str | None = None  # the format asked (dcat, dcat_ap_v3...), set by open_catalog_export

    def dataset_url(self, dataset: PublishedDataset) -> str:
        return f"{self.api_root}/catalog/datasets/{dataset.dataset_id}"

    def export_urls(self, dataset: PublishedDataset) -> list[tuple[str, str]]:
        """(format, download URL) of each export a DCAT distribution or data.json lists."""
        formats = [
            f for f in dataset_formats(dataset) if self.include_exports is None or f in self.include_exports
        ]
        base = f"{self.dataset_url(dataset)}/exports"
        labels = "?use_labels=true" if self.use_labels_in_exports else ""
        return [(f, f"{base}/{f}{labels if f in ('csv', 'xlsx') else ''}") for f in formats]

    def language(self, metas: dict[str, Any]) -> str | None:
        """The language the dataset's texts are in: ``lang`` if asked, else its ``language`` metadata."""
        if self.lang:
            return self.lang
        value = metas.get("language")
        value = value[0] if isinstance(value, list) and value else value
        return value if isinstance(value, str) and value in LANGS else None
