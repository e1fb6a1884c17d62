"""Previews and guesses for saved resources (and for a datasource about to become one).

The extraction engine (``extract/preview.py``) does the reading, for a bounded number of bytes; this
module takes the object ``datasets/locate.py`` found (one probe GET) and shows the fields as the publish will
write them: the dataset's field configuration applied (names, labels, types, descriptions, order,
deletions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets import glob_preview, locate
from datawharf.datasets.fieldconfig import FieldSpec, apply_configurations, stack
from datawharf.datasets.locate import LocatedObject
from datawharf.extract import preview as engine
from datawharf.extract.types import convert_column
from datawharf.settings import Settings
from datawharf.store.models.datasets import FieldConfiguration, Resource


def preview_resource(
    session: Session,
    settings: Settings,
    located: LocatedObject,
    *,
    dataset_uid: str | None,
    extractor: str | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The reference ``ResourcePreview`` (fields, at most 20 records) of the located object (the caller
    closes it) with the dataset's field configuration applied, plus what was guessed and how many bytes
    were read. ``extractor`` and ``params`` are the resource's: given ones win, the rest is guessed."""
    stream = (located.open_preview or located.open)()
    try:
        result = engine.preview(
            stream,
            located.name,
            located.content_type,
            extractor=extractor or "",
            params=dict(params),
            max_bytes=settings.preview_max_bytes,
            spreadsheet_limits=settings.spreadsheet_limits,
        )
    finally:
        stream.close()
    configurations = stack(
        list(
            session.scalars(
                select(FieldConfiguration)
                .where(FieldConfiguration.dataset_uid == (dataset_uid or ""))
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


def guess_for(
    located: LocatedObject, extractor: str | None, params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """``(extractor, params)`` for the located object (the caller closes it): the given type and params
    win, the rest is guessed from a bounded sample."""
    stream = (located.open_preview or located.open)()
    try:
        return engine.guess_params(
            stream, located.name, located.content_type, extractor or None, dict(params)
        )
    finally:
        stream.close()


def preview_saved(session: Session, settings: Settings, resource: Resource) -> dict[str, Any]:
    """A saved resource's preview, through the connection it holds (one probe GET; a prefix or glob:
    one listing page, then a few objects, ``glob_preview.py``)."""
    target = locate.target_of(session, settings, resource)
    if target.pattern is not None:
        from_set: dict[str, Any] = glob_preview.preview_set(
            session,
            settings,
            target,
            dataset_uid=resource.dataset_uid,
            extractor=resource.type,
            params=dict(resource.params),
            preview_one=preview_resource,
        )
        return from_set
    with locate.probe(settings, target) as found:
        return preview_resource(
            session,
            settings,
            found.located,
            dataset_uid=resource.dataset_uid,
            extractor=resource.type,
            params=resource.params,
        )


def guess_saved(
    session: Session, settings: Settings, resource: Resource, params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """``guess_for`` a saved resource's object, its type kept, ``params`` given (one probe GET)."""
    with locate.probe(settings, locate.target_of(session, settings, resource)) as found:
        return guess_for(found.located, resource.type, params)
