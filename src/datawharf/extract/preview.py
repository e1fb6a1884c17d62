"""The preview: the first 20 records of a file, as the wizard shows them, for a bounded cost.

Given a stream and what is known (name, content type, maybe an extractor and some parameters), guess
what is missing, read at most 20 records, name and type the fields. What it costs does not depend on
the size of the object: the sample and the records come from the same prefix, the CSV reader grows that
prefix only until 20 records are complete, and every extractor is held to ``max_bytes`` of content
(``settings.preview_max_bytes``): past it the preview fails with ``no_complete_record``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa

from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract.base import Extractor, ReadOptions
from datawharf.extract.fields import field_identities
from datawharf.extract.limits import DEFAULT_SPREADSHEET_LIMITS, PREVIEW_RECORDS, MiB, SpreadsheetLimits
from datawharf.extract.registry import EXTRACTORS, typed_source
from datawharf.extract.sniff import best_extractor, open_sample
from datawharf.extract.types import convert_column, guess_type


@dataclass
class Preview:
    extractor: str
    params: dict[str, Any]
    fields: list[dict[str, Any]]
    records: list[dict[str, Any]]
    bytes_read: int = 0  # bytes pulled from the stream handed to ``preview``
    filename: str = ""  # the content's name (inside an archive: the member's)
    types: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The reference ``resources/preview`` body."""
        return {"fields": self.fields, "records": self.records}


class _Bounded:
    """Holds any extractor to ``limit`` bytes of content, whatever it reads or seeks."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.limit, self.bytes_read = raw, limit, 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or self.bytes_read + size > self.limit:
            size = self.limit - self.bytes_read + 1
        data = self.raw.read(size)
        self.bytes_read += len(data)
        if self.bytes_read > self.limit:
            raise ExtractError(
                f"No complete record in the first {self.limit / MiB:g} MiB: "
                "check the separator and the encoding.",
                error_code="no_complete_record",
                detail={"byte_offset": self.limit},
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __getattr__(self, name: str) -> Any:  # seek, tell, seekable, peek... pass through
        return getattr(self.raw, name)


def guess_params(
    stream: BinaryIO,
    filename: str,
    content_type: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    extractors: Mapping[str, Extractor] | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(extractor, params)``: the given ones win, the rest is guessed from the sample."""
    opened = open_sample(stream, filename, content_type, params)
    return _resolve(opened.sample, extractor, params, extractors)


def _resolve(
    sample: Any,
    extractor: str | None,
    params: Mapping[str, Any] | None,
    extractors: Mapping[str, Extractor] | None,
) -> tuple[str, dict[str, Any]]:
    registry = extractors if extractors is not None else EXTRACTORS
    name = extractor or best_extractor(sample, registry)
    if name not in registry:
        raise ExtractError(
            f"Unknown extractor {name!r}: use one of {', '.join(sorted(registry))}.",
            error_code="unknown_extractor",
        )
    # None is "guess it", but for a parameter whose default is None it is the value ("no escapechar").
    kept = {p.name for p in registry[name].parameters if p.default is None}
    given = {k: v for k, v in (params or {}).items() if v is not None or k in kept}
    guessed = registry[name].guess_params(sample) if _missing(registry[name], given) else {}
    return name, {**guessed, **given}


def _missing(extractor: Extractor, given: Mapping[str, Any]) -> bool:
    return any(p.name not in given for p in extractor.parameters)


def preview(
    stream: BinaryIO,
    filename: str,
    content_type: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    max_bytes: int = 8 * MiB,
    records: int = PREVIEW_RECORDS,
    extractors: Mapping[str, Extractor] | None = None,
    spreadsheet_limits: SpreadsheetLimits = DEFAULT_SPREADSHEET_LIMITS,
) -> Preview:
    """Guess what is missing, read at most ``records`` records, return fields and JSON-ready records."""
    opened = open_sample(stream, filename, content_type, params)
    name, resolved = _resolve(opened.sample, extractor, params, extractors)
    registry = extractors if extractors is not None else EXTRACTORS
    options = ReadOptions(
        max_records=records, filename=opened.filename, max_bytes=max_bytes, spreadsheet=spreadsheet_limits
    )
    bounded = _Bounded(opened.content, max_bytes)
    try:
        batches = []
        count = 0
        for batch in registry[name].read(bounded, resolved, options):  # type: ignore[arg-type]
            batches.append(batch.slice(0, records - count))
            count += batches[-1].num_rows
            if count >= records:
                break
    except DatawharfError:
        raise
    except (pa.ArrowException, ValueError, UnicodeError) as exc:
        raise ExtractError(
            f"{opened.filename} could not be read with {name} ({str(exc).splitlines()[0][:200]}): "
            "check the extractor and its parameters.",
            error_code="unreadable_content",
        ) from exc
    fields, rows, types = _describe(batches, typed_source=typed_source(name))
    return Preview(
        extractor=name,
        params=resolved,
        fields=fields,
        records=rows,
        bytes_read=opened.bytes_read,
        filename=opened.filename,
        types=types,
    )


def _describe(
    batches: list[pa.RecordBatch], *, typed_source: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    if not batches:
        return [], [], {}
    schema = batches[0].schema
    columns = [
        pa.chunked_array([b.column(i) for b in batches], schema.field(i).type) for i in range(len(schema))
    ]
    identities = field_identities(schema.names)
    fields: list[dict[str, Any]] = []
    values: list[list[Any]] = []
    types: dict[str, str] = {}
    for identity, column in zip(identities, columns, strict=True):
        field_type = guess_type(column, typed_source=typed_source)
        converted, _ = convert_column(column, field_type)
        types[identity.name] = field_type
        fields.append(
            {
                "name": identity.name,
                "label": identity.label,
                "original_name": identity.original_name,
                "type": field_type,
                "description": "",
                "annotations": [],
            }
        )
        values.append([_jsonable(v, field_type) for v in converted.to_pylist()])
    names = [identity.name for identity in identities]
    rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)] if values else []
    return fields, rows, types


def _jsonable(value: Any, field_type: str) -> Any:
    """Twenty records, once: a Python loop is fine here (never on the publish path)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if field_type == "geo_shape":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
