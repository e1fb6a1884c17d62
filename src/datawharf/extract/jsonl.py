"""``jsonl``: JSON Lines / NDJSON, one record per line.

A preview reads line by line; a publish reads line-aligned blocks parsed by Arrow (``_jsonl_blocks``),
a block Arrow cannot read as this module would falling back to the line-by-line path.

Lines are cut from fixed-size chunks, so a line longer than ``MAX_LINE_BYTES`` (a 2 GB single line) is
refused after reading that much, never held whole. Blank lines are skipped; a leading byte order mark
and the record separators of GeoJSON text sequences (RFC 8142) are tolerated. When the first line is
an array of strings and the next ones are arrays, the first line names the columns (the "compact"
JSON Lines layout); other arrays are named by position.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from datawharf.errors import ExtractError
from datawharf.extract._jsonl_blocks import all_lines, blocks, full_batches
from datawharf.extract._jsonstream import MAX_JSON_DEPTH
from datawharf.extract._records import dict_batches, filename_constants, plain
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample
from datawharf.extract.json import looks_like_json_lines

MAX_LINE_BYTES = 64 * 1024 * 1024
_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")


class JsonLinesExtractor:
    name: ClassVar[str] = "jsonl"
    label: ClassVar[str] = "JSON Lines"
    description: ClassVar[str] = "One JSON record per line (JSON Lines, NDJSON)."
    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".jsonlines")
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = (
        ExtractorParameter(
            "extract_filename", "boolean", "Extract filename", "Add a field with the file's name.", False
        ),
    )

    def detect(self, sample: Sample) -> float:
        by_name = os.path.splitext(sample.filename.lower())[1] in self.extensions
        by_type = (sample.content_type or "").split(";")[0].strip().lower() in _TYPES
        lines = looks_like_json_lines(sample.head)
        if lines:
            return 0.95 if (by_name or by_type) else 0.9
        first = sample.head.lstrip(b"\xef\xbb\xbf \t\r\n\x1e")[:1]
        if (by_name or by_type) and first in (b"{", b"["):
            return 0.8
        return 0.1 if by_name and not sample.head.strip() else 0.0

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        if not sample.head.strip(b"\xef\xbb\xbf \t\r\n\x1e"):
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        return {"extract_filename": False}

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        constants = filename_constants(params, options)
        if options.max_records is not None:  # a preview stops after a few lines: no block worth parsing
            return dict_batches(_records(_lines(stream, 16 * 1024)), options, constants=constants)
        return _full(stream, options, constants)


def _full(
    stream: BinaryIO, options: ReadOptions, constants: dict[str, str] | None
) -> Iterator[pa.RecordBatch]:
    """A publish: blocks parsed by Arrow (``_jsonl_blocks``); the compact layout (a header array, then
    arrays) keeps the line-by-line path, its header being state across the whole file."""
    parts = blocks(stream, MAX_LINE_BYTES)
    head = next(parts, None)
    if head is None:
        raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
    parts = itertools.chain([head], parts)
    if head[1].lstrip(b" \t\r\n\x1e")[:1] == b"[":
        yield from dict_batches(_records(all_lines(parts)), options, constants=constants)
    else:
        yield from full_batches(parts, options, constants, _records)


def _lines(stream: BinaryIO, chunk: int) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` for each non-blank line."""
    buffer = bytearray()
    number = 0
    first = True
    searched = 0
    while True:
        data = stream.read(chunk)
        if first:
            first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        if data:
            buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", max(start, searched))
            if end < 0:
                break
            number += 1
            line = bytes(buffer[start:end]).strip(b" \t\r\x1e")
            if line:
                yield number, line
            start = end + 1
        del buffer[:start]
        searched = len(buffer)
        if len(buffer) > MAX_LINE_BYTES:
            raise ExtractError(
                f"Line {number + 1} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB: this is not "
                "JSON Lines (one record per line); choose the JSON extractor if it is one document.",
                error_code="record_too_long",
                detail={"row": number + 1},
            )
        if not data:
            line = bytes(buffer).strip(b" \t\r\x1e")
            if line:
                yield number + 1, line
            return


def _records(lines: Iterator[tuple[int, bytes]], *, first: bool = True) -> Iterator[dict[str, Any]]:
    """``first``: these lines start the file (a header may come first; none at all is an empty file)."""
    header: list[str] | None = None
    seen_any = not first
    number = 0
    for number, line in lines:
        try:
            value = json.loads(line)
        except RecursionError as exc:
            raise ExtractError(
                f"Line {number} nests objects or arrays too deep (more than about {MAX_JSON_DEPTH} levels "
                "is refused): this is not a table datawharf can read.",
                error_code="json_too_deep",
                detail={"row": number},
            ) from exc
        except ValueError as exc:
            raise ExtractError(
                f"Line {number} is not valid JSON ({str(exc)[:120]}): check that the file has one JSON "
                "record per line.",
                error_code="jsonl_invalid_line",
                detail={"row": number},
            ) from exc
        if _depth_exceeds(value, MAX_JSON_DEPTH):
            raise ExtractError(
                f"Line {number} nests objects or arrays more than {MAX_JSON_DEPTH} levels deep: "
                "this is not a table datawharf can read.",
                error_code="json_too_deep",
                detail={"row": number},
            )
        if isinstance(value, dict):
            yield {key: plain(v) for key, v in value.items()}
        elif isinstance(value, list):
            if not seen_any and value and all(isinstance(v, str) for v in value):
                header = value
                seen_any = True
                continue
            names = header or []
            yield {
                (names[i] if i < len(names) and names[i] else f"column_{i + 1}"): plain(v)
                for i, v in enumerate(value)
            }
        else:
            yield {"value": value}
        seen_any = True
    if not number and first:
        raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative, so a deep value cannot exhaust the stack while being measured."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False
