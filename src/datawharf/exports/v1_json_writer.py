"""The v1 download API's JSON: one array of v1 records (``{"datasetid", "recordid", "fields", "geometry",
"record_timestamp"}``, as ``records/1.0/search`` gives them), written a batch at a time. The export is
compiled with record ids (``Format.ids``), so ``recordid`` is the v2.1 ``_id``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from datawharf.explore.records import ID_COLUMN
from datawharf.explore.v1 import RecordShaper
from datawharf.exports.context import ExportContext
from datawharf.exports.json_writers import dumps, json_records


def write_v1_json(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    timestamp = context.published.isoformat() if context.published is not None else None
    shaped = RecordShaper(context.dataset_id, {c.name: c.type for c in context.columns}, timestamp)
    first = True
    yield b"["
    for batch in batches:
        parts = []
        for record in json_records(context, batch):
            record["_id"] = record.pop(ID_COLUMN, None)
            parts.append(("\n" if first else ",\n") + dumps(shaped(record)))
            first = False
        if parts:
            yield "".join(parts).encode()
    yield b"]\n" if first else b"\n]\n"
