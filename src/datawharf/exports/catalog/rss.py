"""The catalog as an RSS 2.0 feed: one ``item`` a dataset, the newest changes first unless ``order_by``
says otherwise. Written with the standard library's streaming XML writer (``XMLGenerator``: escaping
and encoding done there), one item a chunk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from email.utils import format_datetime

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import modified, public
from datawharf.exports.catalog.context import CatalogContext, newest, texts
from datawharf.exports.xml_stream import XmlStream


def write_rss(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    out = XmlStream()
    out.start("rss", {"version": "2.0"})
    out.start("channel")
    out.text("title", "datawharf catalog")
    out.text("link", f"{context.api_root}/catalog/datasets")
    out.text("description", f"The {len(datasets)} datasets of this catalog.")
    if context.lang:
        out.text("language", context.lang)
    if (changed := newest(datasets)) is not None:
        out.text("lastBuildDate", format_datetime(changed.astimezone(dt.UTC), usegmt=True))
    yield out.take()
    for dataset in datasets:
        metas = public(dataset)["metas"]["default"]
        out.start("item")
        out.text("title", str(metas.get("title") or dataset.dataset_id))
        out.text("link", context.dataset_url(dataset))
        if metas.get("description"):
            out.text("description", str(metas["description"]))
        out.text("guid", dataset.uid, {"isPermaLink": "false"})
        changed = modified(dataset)
        if changed is not None:
            out.text("pubDate", format_datetime(changed.astimezone(dt.UTC), usegmt=True))
        for name in ("theme", "keyword"):
            for value in texts(metas.get(name)):
                out.text("category", value, {"domain": name})
        out.end("item")
        yield out.take()
    out.end("channel")
    out.end("rss")
    yield out.finish()
