"""``jsonfile``: records in a JSON document, streamed (a 5 GB array never sits in memory).

``json_root`` is the dot path, through object keys, of the array of records: empty for a document
that is itself the array (Opendatasoft's v2.1 ``exports/json``), ``data`` for a Socrata ``rows.json``,
``results`` for an API response. An object at ``json_root`` is one record. ``json_object`` is a path
inside each record to the object holding its values: ``fields`` in the Opendatasoft v1 export, where
each record is ``{"datasetid", "recordid", "fields": {...}, "record_timestamp"}``.

Records that are arrays (Socrata rows) take their column names from ``meta.view.columns`` when the
document has it before the rows, leaving out the columns Socrata flags hidden; otherwise they are
named by position. Guessing looks at a head of the document, which may be cut anywhere.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from datawharf.errors import ExtractError
from datawharf.extract._jsonstream import JsonRecords, parse_path, survey
from datawharf.extract._records import dict_batches, filename_constants, plain
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample

SOCRATA_COLUMNS = ("meta", "view", "columns")
# Keys API responses and exports put their records under, most telling first.
_RECORD_KEYS = ("results", "records", "data", "items", "features", "rows", "values", "hits", "entries")
_JSON_TYPES = ("application/json", "text/json", "application/x-json")


def looks_like_json(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def looks_like_geojson(head: bytes) -> bool:
    text = head[:4096]
    return b'"FeatureCollection"' in text or (b'"Feature"' in text and b'"geometry"' in text)


def looks_like_json_lines(head: bytes) -> bool:
    """Two or more lines that each hold one whole JSON object or array."""
    import json

    lines = [line.strip() for line in head.splitlines()[:6]]
    complete = [line for line in lines[:-1] if line] if len(lines) > 1 else []
    if len(complete) < 2:
        return False
    try:
        return all(isinstance(json.loads(line), dict | list) for line in complete[:5])
    except ValueError:
        return False


class JsonExtractor:
    name: ClassVar[str] = "jsonfile"
    label: ClassVar[str] = "JSON File"
    description: ClassVar[str] = "An array of JSON records, at the root of the document or under a key."
    extensions: ClassVar[tuple[str, ...]] = (".json",)
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = (
        ExtractorParameter(
            "json_root",
            "string",
            "JSON root",
            "Path to the JSON array that contains the objects that will become the dataset records "
            "(dot-separated keys; empty when the document itself is the array)",
            "",
        ),
        ExtractorParameter(
            "json_object",
            "string",
            "JSON object",
            "Relative path to the JSON object to extract from each record (e.g. fields)",
            "",
        ),
        ExtractorParameter(
            "extract_filename", "boolean", "Extract filename", "Add a field with the file's name.", False
        ),
    )

    def detect(self, sample: Sample) -> float:
        by_name = os.path.splitext(sample.filename.lower())[1] in self.extensions
        by_type = (sample.content_type or "").split(";")[0].strip().lower() in _JSON_TYPES
        if not looks_like_json(sample.head):
            return 0.1 if (by_name or by_type) and not sample.head.strip() else 0.0
        if looks_like_json_lines(sample.head):
            return 0.3
        if looks_like_geojson(sample.head):
            return 0.5
        try:
            survey(sample.head[:65536], max_events=20_000)
        except ExtractError:
            return 0.05
        return 0.9 if (by_name or by_type) else 0.8

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        if not sample.head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        arrays = survey(sample.head)
        root = guess_root(arrays)
        return {
            "json_root": ".".join(root),
            "json_object": guess_object(sample.head, root),
            "extract_filename": False,
        }

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        root = parse_path(params.get("json_root"))
        inner = parse_path(params.get("json_object"))
        buf_size = 16 * 1024 if options.max_records is not None else 64 * 1024
        records = JsonRecords(stream, root, capture=SOCRATA_COLUMNS, buf_size=buf_size)
        return dict_batches(_rows(records, inner), options, constants=filename_constants(params, options))


def _rows(records: JsonRecords, inner: list[str]) -> Iterator[dict[str, Any]]:
    names: list[str] | None = None
    keep: list[int] | None = None
    for item in records:
        value = _at(item, inner)
        if isinstance(value, dict):
            yield {key: plain(v) for key, v in value.items()}
        elif isinstance(value, list):
            if names is None:
                names, keep = _array_columns(records.captured)
            if keep is not None:
                yield {names[i]: plain(value[i]) for i in keep if i < len(value)}
            else:
                yield {_position_name(i, names): plain(v) for i, v in enumerate(value)}
        else:
            yield {"value": value}


def _at(item: Any, path: list[str]) -> Any:
    for key in path:
        item = item.get(key) if isinstance(item, dict) else None
    return item


def _array_columns(columns: list[Any]) -> tuple[list[str], list[int] | None]:
    """Socrata's column list: names to use, and the positions that are not hidden metadata."""
    names = [str(c.get("name") or c.get("fieldName") or "") if isinstance(c, dict) else "" for c in columns]
    if not names:
        return [], None
    keep = [
        i for i, c in enumerate(columns) if not (isinstance(c, dict) and "hidden" in (c.get("flags") or []))
    ]
    return names, keep


def _position_name(index: int, names: list[str]) -> str:
    return names[index] if index < len(names) and names[index] else f"column_{index + 1}"


def guess_root(arrays: dict[tuple[str, ...], dict[str, int]]) -> list[str]:
    """The array most likely to hold the records."""
    if () in arrays:
        return []
    if SOCRATA_COLUMNS in arrays and ("data",) in arrays:
        return ["data"]

    def score(item: tuple[tuple[str, ...], dict[str, int]]) -> tuple[int, int, int, int]:
        path, kinds = item
        containers = kinds.get("map", 0) + kinds.get("array", 0)
        named = 1 if path and path[-1].lower() in _RECORD_KEYS else 0
        return (1 if containers else 0, named, containers + kinds.get("scalar", 0), -len(path))

    candidates = [item for item in arrays.items() if item[0] and item[0][0] != "meta"] or list(arrays.items())
    if not candidates:
        return []
    return list(max(candidates, key=score)[0])


def guess_object(head: bytes, root: list[str]) -> str:
    """``fields`` for Opendatasoft v1 records (values nested under ``fields``), else empty."""
    sampled: list[Any] = []
    try:
        for item in JsonRecords(io.BytesIO(head), root, buf_size=16 * 1024):
            sampled.append(item)
            if len(sampled) >= 5:
                break
    except ExtractError:
        pass  # a head cut inside the first records: judge on what came
    envelopes = [
        item
        for item in sampled
        if isinstance(item, dict)
        and isinstance(item.get("fields"), dict)
        and ("recordid" in item or "datasetid" in item)
    ]
    return "fields" if sampled and len(envelopes) == len(sampled) else ""
