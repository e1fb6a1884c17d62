"""The block-parsed publish read of JSON Lines gives what the line-by-line read gives, record by record.

The reference is the line-by-line path itself (``jsonl._records`` + ``dict_batches``, as previews read);
blocks are scaled down (a few KiB) so one file crosses many blocks, fast and fallback ones mixed.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pytest

from datawharf.errors import ExtractError
from datawharf.extract import _jsonl_blocks, jsonl
from datawharf.extract._records import dict_batches
from datawharf.extract.base import ReadOptions
from datawharf.extract.jsonl import JsonLinesExtractor

JSONL = JsonLinesExtractor()


def _line_by_line(data: bytes, options: ReadOptions) -> list[pa.RecordBatch]:
    rows = jsonl._records(jsonl._lines(io.BytesIO(data), 1024))
    return list(dict_batches(rows, options))


def _cells(batches: list[pa.RecordBatch]) -> list[list[tuple[str, str, Any]]]:
    """Each record as its (column, Arrow type, value) with a value, in column order.

    Nulls are left out: a block learns a column a few records before the line it first appears on
    (both paths add it at the end, null before), which only batch boundaries can show.
    """
    out = []
    for batch in batches:
        for index in range(batch.num_rows):
            out.append(
                [
                    (n, str(batch.schema.field(n).type), batch.column(n)[index].as_py())
                    for n in batch.schema.names
                    if batch.column(n)[index].is_valid
                ]
            )
    return out


def _same(data: bytes) -> list[pa.RecordBatch]:
    options = ReadOptions(batch_size=1)  # one record a batch: types compare record by record
    blocks = list(JSONL.read(io.BytesIO(data), {}, options))
    reference = _line_by_line(data, options)
    assert _cells(blocks) == _cells(reference)
    assert blocks[-1].schema.names == reference[-1].schema.names
    return blocks


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_jsonl_blocks, "BLOCK_BYTES", 2048)


def _lines(records: list[Any]) -> bytes:
    return b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in records) + b"\n"


def test_flat_records_across_many_blocks_match() -> None:
    records = [
        {"id": i, "name": f"é{i}", "ok": i % 2 == 0, "score": i / 4 + 0.5, "day": f"2024-01-{i % 28 + 1:02d}"}
        for i in range(400)
    ]
    for i in range(0, 400, 7):
        records[i]["name"] = None  # nulls inside typed columns
    records[300]["late"] = "added at the end"  # a column first seen in a late block
    batches = _same(_lines(records))
    assert batches[0].schema.names == ["id", "name", "ok", "score", "day"]
    assert batches[-1].schema.names == ["id", "name", "ok", "score", "day", "late"]
    assert batches[0].schema.field("day").type == pa.string()  # not Arrow's inferred timestamp
    assert batches[0].schema.field("id").type == pa.int64()


def test_blocks_needing_the_record_path_match() -> None:
    records: list[Any] = [{"id": i, "v": i} for i in range(100)]
    records += [{"id": 100 + i, "v": "text"} for i in range(50)]  # type drift in later blocks
    records += [{"id": 200, "geo": {"type": "Point", "coordinates": [1.5, 2]}}]  # nested: JSON text
    records += [{"id": 201, "big": 123456789012345678901234}]  # beyond int64: text
    records += [{"id": 202 + i, "v": i if i % 2 else "x"} for i in range(80)]  # mixed in one block
    records += [[1, 2, 3], "scalar", {"id": 999, "empty": None}]
    data = _lines(records).replace(b'{"id": 50,', b'\n\n{"id": 50,')  # blank lines
    data = data.replace(b'{"id": 60,', b'\x1e{"id": 60,')  # an RFC 8142 record separator
    batches = _same(data)
    geo = next(b for b in batches if "geo" in b.schema.names and b.column("geo")[0].is_valid)
    assert geo.column("geo")[0].as_py() == '{"type":"Point","coordinates":[1.5,2]}'


def test_compact_layout_keeps_its_header_across_blocks() -> None:
    data = _lines([["id", "name"]] + [[i, f"n{i}"] for i in range(500)])
    batches = _same(data)
    assert batches[-1].schema.names == ["id", "name"]
    assert batches[-1].column("name")[0].as_py() == "n499"


def test_errors_name_the_line_in_a_late_block() -> None:
    data = _lines([{"id": i} for i in range(1000)]) + b'{"id": \n'
    with pytest.raises(ExtractError) as caught:
        list(JSONL.read(io.BytesIO(data), {}, ReadOptions()))
    assert caught.value.error_code == "jsonl_invalid_line"
    assert caught.value.detail["row"] == 1001


def test_whitespace_only_file_is_empty_and_filename_column_is_last() -> None:
    with pytest.raises(ExtractError) as caught:
        list(JSONL.read(io.BytesIO(b"\n  \n"), {}, ReadOptions()))
    assert caught.value.error_code == "empty_file"
    data = _lines([{"a": i} for i in range(300)] + [{"a": 1, "b": 2}])
    batches = list(JSONL.read(io.BytesIO(data), {"extract_filename": True}, ReadOptions(filename="f.jsonl")))
    assert batches[-1].schema.names == ["a", "b", "filename"]
    assert {b.column("filename")[0].as_py() for b in batches} == {"f.jsonl"}
    assert sum(b.num_rows for b in batches) == 301
