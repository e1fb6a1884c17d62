"""Previews and guesses for saved resources (and for a datasource about to become one).

The extraction engine (``extract/preview.py``) does the reading, for a bounded number of bytes; this
module finds the object through the resource's connection and shows the fields as the publish will
write them: the dataset's field configuration applied (names, labels, types, descriptions, order,
deletions).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets.fieldconfig import FieldSpec, apply_configurations, stack
from datawharf.datasets.sources import Locator
from datawharf.extract import preview as engine
from datawharf.extract.types import convert_column
from datawharf.settings import Settings
from datawharf.store.models.datasets import FieldConfiguration, Resource


def _open(locator: Locator, resource: Resource) -> tuple[Any, Any]:
    located = locator(resource)
    opener = located.open_preview or located.open
    return located, opener()


def preview_resource(
    session: Session, settings: Settings, locator: Locator, resource: Resource
) -> dict[str, Any]:
    """The reference ``ResourcePreview`` (fields, at most 20 records) with the field configuration applied,
    plus what was guessed and how many bytes were read."""
    located, stream = _open(locator, resource)
    try:
        result = engine.preview(
            stream,
            located.name,
            located.content_type,
            extractor=resource.type,
            params=resource.params,
            max_bytes=settings.preview_max_bytes,
            spreadsheet_limits=settings.spreadsheet_limits,
        )
    finally:
        stream.close()
        located.close()
    configurations = stack(
        list(
            session.scalars(
                select(FieldConfiguration)
                .where(FieldConfiguration.dataset_uid == resource.dataset_uid)
                .order_by(FieldConfiguration.position)
            )
        )
    )
    specs = [
        FieldSpec(
            name=f["name"],
            label=f["label"],
            type=f["type"],
            source=f["name"],
            original_name=f["original_name"],
        )
        for f in result.fields
    ]
    fields = apply_configurations(specs, configurations)
    columns: dict[str, list[Any]] = {}
    for spec in fields:
        values = [record.get(spec.source) for record in result.records]
        guessed = result.types.get(spec.source)
        if spec.type != guessed:
            converted, _failed = convert_column(
                pa.array([None if v is None else str(v) for v in values], pa.string()), spec.type
            )
            values = [engine._jsonable(v, spec.type) for v in converted.to_pylist()]
        columns[spec.name] = values
    records = [{name: columns[name][i] for name in columns} for i in range(len(result.records))]
    return {
        "fields": [spec.public() for spec in fields],
        "records": records,
        # Beyond the reference:
        "extractor": result.extractor,
        "params": result.params,
        "bytes_read": result.bytes_read,
    }


def guess_for(settings: Settings, locator: Locator, resource: Resource) -> tuple[str, dict[str, Any]]:
    """``(extractor, params)`` for a resource (saved or not): the given type and params win, the rest is
    guessed from a bounded sample."""
    located, stream = _open(locator, resource)
    try:
        return engine.guess_params(
            stream, located.name, located.content_type, resource.type or None, resource.params or {}
        )
    finally:
        stream.close()
        located.close()
