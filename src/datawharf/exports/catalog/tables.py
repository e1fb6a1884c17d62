"""The catalog as a table (csv, xlsx) or as the v2.1 dataset objects (json).

The table's columns are the catalog's ODSQL fields (``explore.catalog.CATALOG_FIELDS``), the lists'
values joined by ``list_separator``; the rows go through the dataset exports' own csv and xlsx writers,
``BATCH`` datasets at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pyarrow as pa

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import CATALOG_FIELDS, metadata_table, public
from datawharf.exports import csv_writer, xlsx_writer
from datawharf.exports.catalog.context import CatalogContext
from datawharf.exports.context import ExportContext, Writer
from datawharf.odsql import OutputColumn

BATCH = 500


def _batches(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[pa.RecordBatch]:
    for start in range(0, len(datasets), BATCH):
        table = metadata_table(datasets[start : start + BATCH], context.options.list_separator)
        yield from table.to_batches()


def _tabular(write: Writer, context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    columns = [OutputColumn(name, kind) for name, kind in CATALOG_FIELDS.items()]
    export = ExportContext(
        columns=columns,
        headers=list(CATALOG_FIELDS),
        zone=context.zone,
        options=context.options,
        schema=metadata_table([]).schema,
        dataset_id="catalog",
    )
    return write(export, _batches(context, datasets))


def write_csv(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    return _tabular(csv_writer.write_csv, context, datasets)


def write_xlsx(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    return _tabular(xlsx_writer.write_xlsx, context, datasets)


def write_json(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    """One array of the dataset objects ``catalog/datasets`` returns, one dataset a chunk."""
    yield b"["
    for index, dataset in enumerate(datasets):
        text = json.dumps(public(dataset), ensure_ascii=False, default=str)
        yield (("\n" if index == 0 else ",\n") + text).encode()
    yield b"\n]\n" if datasets else b"]\n"
