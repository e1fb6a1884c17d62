"""The v1 download API's JSON: one array of v1 records (``{"datasetid", "recordid", "fields", "geometry",
"record_timestamp"}``, as ``records/1.0/search`` gives them), written a batch at a time. The export is
compiled with record ids (``Format.ids``), so ``recordid`` is the v2.1 ``_id``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from datawharf.explore.records import ID_COLUMN
from datawharf.explore.v1 import v1_record
from datawharf.exports.context import ExportContext
from datawharf.exports.json_writers import dumps, json_records


def write_v1_json(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    types = {c.name: c.type for c in context.columns}
    timestamp = context.published.isoformat() if context.published is not None else None
    first = True
    yield b"["
    for batch in batches:
        parts = []
        for record in json_records(context, batch):
            record["_id"] = record.pop(ID_COLUMN, None)
            parts.append(
                ("\n" if first else ",\n") + dumps(v1_record(context.dataset_id, types, record, timestamp))
            )
            first = False
        if parts:
            yield "".join(parts).encode()
    yield b"]\n" if first else b"\n]\n"
