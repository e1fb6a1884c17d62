"""jsonfile and jsonl over the real corpus files, streaming bounds and the bad input."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from datawharf.errors import ExtractError
from datawharf.extract.base import ReadOptions, Sample
from datawharf.extract.json import JsonExtractor
from datawharf.extract.jsonl import JsonLinesExtractor
from tests.support.files import CORPUS, CountingFile

JSON = JsonExtractor()
JSONL = JsonLinesExtractor()


def _table(extractor: Any, data: bytes, params: dict[str, Any], **options: Any) -> pa.Table:
    batches = list(extractor.read(io.BytesIO(data), params, ReadOptions(**options)))
    return pa.Table.from_batches(batches)


def _sample(name: str, data: bytes) -> Sample:
    return Sample(head=data[:65536], filename=name, is_complete=len(data) <= 65536)


# (file, extractor, expected params, records, columns, first record's expected values)
CORPUS_CASES: list[tuple[str, Any, dict[str, Any], int, int, dict[str, Any]]] = [
    (
        "ods-v21-export-json-array.json",
        JSON,
        {"json_root": "", "json_object": ""},
        10,
        15,
        {
            "stationcode": "32304",
            "capacity": 28,
            "coordonnees_geo": '{"lon":2.440523876268,"lat":48.878370277021}',
        },
    ),
    (
        "ods-v1-export-json-array-datasetid-fields.json",
        JSON,
        {"json_root": "", "json_object": "fields"},
        10,
        6,
        {"numbikesavailable": 3, "is_renting": "OUI", "duedate": "2022-08-31T11:02:06+02:00"},
    ),
    (
        "socrata-rows-json-meta-data-arrays.json",
        JSON,
        {"json_root": "data", "json_object": ""},
        24,
        16,  # 24 columns minus Socrata's 8 hidden metadata columns
        {"COMMUNITY AREA NAME": "Douglas", "ADDRESS": "3117 S Rhodes Ave", "LATITUDE": "41.8379017347"},
    ),
    (
        "vbb-change-positions.jsonl",
        JSONL,
        {},
        25,
        11,
        {"stationName": "Bismarckstraße", "fromLines": '["U7"]', "fromPosition": 0.2, "samePlatform": False},
    ),
]


@pytest.mark.parametrize(("name", "extractor", "params", "records", "columns", "first"), CORPUS_CASES)
def test_corpus_files_are_guessed_and_read(
    name: str, extractor: Any, params: dict[str, Any], records: int, columns: int, first: dict[str, Any]
) -> None:
    data = (CORPUS / name).read_bytes()
    sample = _sample(name, data)
    scores = {e.name: e.detect(sample) for e in (JSON, JSONL)}
    assert max(scores, key=scores.__getitem__) == extractor.name
    guessed = extractor.guess_params(sample)
    assert guessed == {**params, "extract_filename": False}
    table = _table(extractor, data, guessed)
    assert table.num_rows == records
    assert table.num_columns == columns
    row = table.slice(0, 1).to_pylist()[0]
    assert {key: row[key] for key in first} == first
    # The same records as Python's json module reads them, in order.
    if name.endswith(".jsonl"):
        expected = [json.loads(line) for line in data.splitlines() if line.strip()]
        assert table.column("toStation").to_pylist() == [r["toStation"] for r in expected]
    elif guessed["json_root"] == "":
        expected = json.loads(data)
        if guessed["json_object"]:
            expected = [r[guessed["json_object"]] for r in expected]
        key = next(iter(first))
        assert table.column(key).to_pylist() == [r[key] for r in expected]


def test_preview_of_the_corpus_stops_at_max_records() -> None:
    data = (CORPUS / "socrata-rows-json-meta-data-arrays.json").read_bytes()
    table = _table(JSON, data, {"json_root": "data"}, max_records=5)
    assert table.num_rows == 5
    assert table.column("ADDRESS").to_pylist()[4] == json.loads(data)["data"][4][9]


def test_root_object_under_a_key_and_a_single_object() -> None:
    response = {"total_count": 3, "results": [{"a": 1}, {"a": 2, "b": "x"}, {"a": 3.5}]}
    data = json.dumps(response).encode()
    params = JSON.guess_params(_sample("r.json", data))
    assert params["json_root"] == "results"
    table = _table(JSON, data, params)
    assert table.column("a").to_pylist() == [1.0, 2.0, 3.5]  # ints and floats: one double column
    assert table.column("b").to_pylist() == [None, "x", None]
    one = _table(JSON, b'{"name": "solo", "n": 1}', {"json_root": ""})
    assert one.to_pylist() == [{"name": "solo", "n": 1}]


def test_nested_root_path_and_mixed_types_become_text() -> None:
    data = json.dumps({"a": {"b": [{"v": 1}, {"v": "two"}, {"v": [1, 2]}, {"v": True}]}}).encode()
    table = _table(JSON, data, {"json_root": "a.b"})
    assert table.column("v").to_pylist() == ["1", "two", "[1,2]", "true"]
    with pytest.raises(ExtractError) as caught:
        _table(JSON, data, {"json_root": "a.c"})
    assert caught.value.error_code == "json_root_not_found"


def test_columns_only_get_added_across_batches() -> None:
    data = json.dumps([{"a": i} for i in range(5)] + [{"a": 9, "late": "x"}]).encode()
    batches = list(JSON.read(io.BytesIO(data), {}, ReadOptions(batch_size=2)))
    assert [b.schema.names for b in batches] == [["a"], ["a"], ["a", "late"]]


def test_extract_filename_adds_the_name() -> None:
    table = _table(JSONL, b'{"a": 1}\n{"a": 2}\n', {"extract_filename": True}, filename="x.jsonl")
    assert table.column("filename").to_pylist() == ["x.jsonl", "x.jsonl"]


def test_jsonl_compact_header_bom_and_blank_lines() -> None:
    data = b'\xef\xbb\xbf["city", "pop"]\n["Lyon", 522000]\n\n["Gap", 40000]'
    table = _table(JSONL, data, {})
    assert table.to_pylist() == [{"city": "Lyon", "pop": 522000}, {"city": "Gap", "pop": 40000}]


def test_json_preview_reads_a_prefix_of_a_large_array() -> None:
    data = json.dumps([{"id": i, "label": f"record {i}", "value": i * 1.5} for i in range(200_000)]).encode()
    source = CountingFile(data)
    batches = list(JSON.read(source, {"json_root": ""}, ReadOptions(max_records=20)))
    assert sum(b.num_rows for b in batches) == 20
    assert source.bytes_read <= 32 * 1024 < len(data) / 100
    lines = b"\n".join(json.dumps({"id": i}).encode() for i in range(200_000))
    source = CountingFile(lines)
    assert sum(b.num_rows for b in JSONL.read(source, {}, ReadOptions(max_records=20))) == 20
    assert source.bytes_read <= 32 * 1024


def _peak_memory(extractor: Any, path: Path, count: int) -> tuple[int, int]:
    """(peak traced bytes of a full read, file size) for ``count`` generated records."""
    records = (json.dumps({"id": i, "name": f"n{i}" * 5}).encode() for i in range(count))
    with path.open("wb") as out:
        out.write(b"[" + b",".join(records) + b"]" if extractor is JSON else b"\n".join(records))
    tracemalloc.start()
    rows = last = 0
    with path.open("rb") as source:
        for batch in extractor.read(source, {}, ReadOptions(batch_size=1_000)):
            rows += batch.num_rows
            last = batch.column("id")[-1].as_py()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (rows, last) == (count, count - 1)
    return peak, path.stat().st_size


@pytest.mark.slow
@pytest.mark.parametrize("extractor", [JSON, JSONL])
def test_full_read_streams_with_bounded_memory(
    extractor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datawharf.extract import _jsonl_blocks

    # JSON Lines publishes by blocks of 8 MiB, more than these files: blocks scaled down to them
    monkeypatch.setattr(_jsonl_blocks, "BLOCK_BYTES", 128 * 1024)
    _peak_memory(extractor, tmp_path / "warm.json", 10)  # lazy imports are not the reader's memory
    small_peak, _small_size = _peak_memory(extractor, tmp_path / "small.json", 12_000)
    # Big enough that half its size is far above a flat peak, whatever else the process allocates meanwhile
    big_peak, big_size = _peak_memory(extractor, tmp_path / "big.json", 120_000)
    assert big_peak < small_peak * 1.3 + 64 * 1024, (small_peak, big_peak)  # flat, not growing
    assert big_peak < big_size / 2, (big_peak, big_size)


# -- bad input -------------------------------------------------------------------------------------
def _fails(code: str, extractor: Any, data: bytes, params: dict[str, Any] | None = None) -> ExtractError:
    started = time.monotonic()
    with pytest.raises(ExtractError) as caught:
        extractor.guess_params(_sample("bad.json", data)) if params is None else None
        for _batch in extractor.read(io.BytesIO(data), params or {}, ReadOptions()):
            pass
    assert caught.value.error_code == code, caught.value.message
    assert time.monotonic() - started < 5
    return caught.value


def test_json_nested_100000_deep_is_refused_quickly() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    _fails("json_too_deep", JSON, deep)  # guessing
    _fails("json_too_deep", JSON, deep, {"json_root": ""})  # reading
    _fails("json_too_deep", JSON, b'{"a": ' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_001, {})
    _fails("json_too_deep", JSONL, b'{"a": 1}\n' + deep + b"\n", {})


@pytest.mark.parametrize(
    ("code", "extractor", "data"),
    [
        ("empty_file", JSON, b""),
        ("empty_file", JSON, b"\xef\xbb\xbf  \n"),
        ("empty_file", JSONL, b""),
        ("json_truncated", JSON, b'[{"a": 1}, {"a": 2'),
        ("json_invalid", JSON, b'[{"a": 1}, {"a" 2}]'),
        ("jsonl_invalid_line", JSONL, b'{"a": 1}\n{"a": \n'),
    ],
)
def test_bad_json_gets_specific_errors(code: str, extractor: Any, data: bytes) -> None:
    _fails(code, extractor, data, {})


def test_jsonl_single_huge_line_is_refused_without_holding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from datawharf.extract import jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1024 * 1024)
    error = _fails("record_too_long", JSONL, b'{"a": "' + b"x" * (3 * 1024 * 1024) + b'"}\n', {})
    assert error.detail["row"] == 1
