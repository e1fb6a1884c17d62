"""Catalog exports, ``/catalog/exports/{format}``: the datasets a caller may read, filtered like
``catalog/datasets`` (``where``, ``refine``, ``exclude``, ``order_by``, ``limit``, ``offset``), as a file.

Formats: ``csv``, ``xlsx`` and ``json`` (the catalog's rows, or the v2.1 dataset objects), ``rss``
(RSS 2.0), ``rdf``/``ttl`` (W3C DCAT in RDF/XML, Turtle), ``dcat`` and the ``dcat_ap_*`` profiles
(DCAT-AP, RDF/XML), ``dublin_core`` (Dublin Core elements, RDF/XML), ``data.json`` (Project Open Data
1.1 / DCAT-US, as data.gov harvests). National profiles that need vocabularies datawharf's metadata does
not hold are refused with ``catalog_export_profile_not_supported``, naming what they need.

The datasets' metadata is in memory already (``access.readable_datasets``); the writers stream one
dataset (a few at a time for the tables) after another. RDF is the exception: rdflib serializes a whole
graph, a few dozen triples a dataset. The client's export slot is held for the life of the stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import InvalidInput
from datawharf.explore import catalog
from datawharf.exports import FORMATS, Export
from datawharf.exports.catalog import data_json, dcat, rss, tables
from datawharf.exports.catalog.context import LANGS, CatalogContext
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine

CatalogWriter = Callable[[CatalogContext, Sequence[PublishedDataset]], Iterator[bytes]]


@dataclass(frozen=True)
class CatalogFormat:
    extension: str
    media_type: str
    write: CatalogWriter


RDF_XML = "application/rdf+xml"
CATALOG_FORMATS: dict[str, CatalogFormat] = {
    "csv": CatalogFormat("csv", "text/csv; charset=utf-8", tables.write_csv),
    "json": CatalogFormat("json", "application/json", tables.write_json),
    "xlsx": CatalogFormat("xlsx", FORMATS["xlsx"].media_type, tables.write_xlsx),
    "rss": CatalogFormat("rss", "application/rss+xml", rss.write_rss),
    "rdf": CatalogFormat("rdf", RDF_XML, dcat.writer("xml")),
    "ttl": CatalogFormat("ttl", "text/turtle", dcat.writer("turtle")),
    "dublin_core": CatalogFormat("rdf", RDF_XML, dcat.write_dublin_core),
    "data.json": CatalogFormat("json", "application/json", data_json.write_data_json),
    **{name: CatalogFormat("rdf", RDF_XML, dcat.writer("xml")) for name in dcat.PROFILES},
}

__all__ = [
    "CATALOG_FORMATS",
    "LANGS",
    "CatalogContext",
    "catalog_formats",
    "check_include_exports",
    "check_lang",
    "open_catalog_export",
]


def catalog_formats() -> list[str]:
    return list(CATALOG_FORMATS)


def _format(name: str) -> CatalogFormat:
    """The format named; the Opendatasoft JS client's hyphenated spellings (``dcat-ap-ch``) too."""
    key = name.replace("-", "_") if name.startswith("dcat-ap") else name
    found = CATALOG_FORMATS.get(key)
    if found is not None:
        return found
    if key in dcat.UNSUPPORTED_PROFILES:
        raise InvalidInput(
            f"The catalog export '{key}' is not available: {dcat.UNSUPPORTED_PROFILES[key]} Use 'dcat' "
            f"(DCAT-AP) or one of {', '.join(dcat.PROFILES)}.",
            error_code="catalog_export_profile_not_supported",
            detail={"format": key, "formats": catalog_formats()},
        )
    raise InvalidInput(
        f"Unknown catalog export format '{name[:40]}'; use one of {', '.join(CATALOG_FORMATS)}.",
        error_code="unknown_export_format",
        detail={"format": name[:40], "formats": catalog_formats()},
    )


def check_lang(lang: str | None) -> str | None:
    if lang is not None and lang not in LANGS:
        raise InvalidInput(
            f"lang must be one of {', '.join(LANGS)}, got {lang[:10]!r}.",
            error_code="invalid_lang",
            detail={"lang": lang[:10], "langs": list(LANGS)},
        )
    return lang


def check_include_exports(names: str | None) -> tuple[str, ...] | None:
    """``include_exports=csv,json``: the distributions a DCAT export lists (default: all)."""
    if names is None:
        return None
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in chosen if n not in FORMATS]
    if unknown:
        raise InvalidInput(
            f"include_exports names unknown formats {', '.join(u[:20] for u in unknown[:5])}; use "
            f"dataset export formats: {', '.join(FORMATS)}.",
            error_code="unknown_export_format",
            detail={"include_exports": unknown[:5], "formats": list(FORMATS)},
        )
    return chosen


def open_catalog_export(
    engine: QueryEngine,
    datasets: Sequence[PublishedDataset],
    request: QueryRequest,
    format_name: str,
    context: CatalogContext,
    *,
    slot: AbstractContextManager[None] | None = None,
) -> Export:
    """Check the request, pick the datasets (in order), and start the stream; errors are raised here."""
    fmt = _format(format_name)
    _total, chosen = catalog.matching(engine, datasets, request, mode="exports")
    zone = ZoneInfo(request.timezone)  # checked by the compiler, above
    context = dataclasses.replace(context, profile=format_name.replace("-", "_"), zone=zone)

    def chunks() -> Iterator[bytes]:
        with slot or nullcontext():
            yield b""  # the slot is held: a client past its cap is refused before any byte
            yield from fmt.write(context, chosen)

    stream = chunks()
    next(stream)
    name = "data" if format_name == "data.json" else "catalog"
    return Export(fmt.media_type, f"{name}.{fmt.extension}", stream)
