"""The catalog as an RSS 2.0 feed: one ``item`` a dataset, the newest changes first unless ``order_by``
says otherwise. Written with the standard library's streaming XML writer (``XMLGenerator``: escaping
and encoding done there), one item a chunk."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from email.utils import format_datetime
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import modified, public
from datawharf.exports.catalog.context import CatalogContext

NONE: AttributesImpl[str] = AttributesImpl({})


def _text(out: XMLGenerator, tag: str, text: str, attributes: dict[str, str] | None = None) -> None:
    out.startElement(tag, AttributesImpl(attributes or {}))
    out.characters(text)
    out.endElement(tag)


def _values(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [value] if isinstance(value, str) and value else []


def write_rss(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    out = XMLGenerator(buffer, encoding="utf-8", short_empty_elements=True)

    def take() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data

    out.startDocument()
    out.startElement("rss", AttributesImpl({"version": "2.0"}))
    out.startElement("channel", NONE)
    _text(out, "title", "datawharf catalog")
    _text(out, "link", f"{context.api_root}/catalog/datasets")
    _text(out, "description", f"The {len(datasets)} datasets of this catalog.")
    if context.lang:
        _text(out, "language", context.lang)
    newest = max((m for m in map(modified, datasets) if m is not None), default=None)
    if newest is not None:
        _text(out, "lastBuildDate", format_datetime(newest.astimezone(dt.UTC), usegmt=True))
    yield take()
    for dataset in datasets:
        metas = public(dataset)["metas"]["default"]
        out.startElement("item", NONE)
        _text(out, "title", str(metas.get("title") or dataset.dataset_id))
        _text(out, "link", context.dataset_url(dataset))
        if metas.get("description"):
            _text(out, "description", str(metas["description"]))
        _text(out, "guid", dataset.uid, {"isPermaLink": "false"})
        changed = modified(dataset)
        if changed is not None:
            _text(out, "pubDate", format_datetime(changed.astimezone(dt.UTC), usegmt=True))
        for name in ("theme", "keyword"):
            for value in _values(metas.get(name)):
                _text(out, "category", value, {"domain": name})
        out.endElement("item")
        yield take()
    out.endElement("channel")
    out.endElement("rss")
    out.endDocument()
    yield take() + b"\n"
