"""The publish's parallel conversion: same values and failures as ``convert_column``, in order, bounded."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datawharf.datasets.fastpath import convert_batch, ordered_map, tune_memory_pool
from datawharf.datasets.fieldconfig import FieldSpec
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv import CsvExtractor
from datawharf.extract.csv_parallel import ParallelCsvRead
from datawharf.extract.types import ARROW_TYPES, convert_column

CSV = (
    "id,code_postal,prix,ouverture,maj,point,texte\n"
    + "".join(
        f"{i},{i % 97:05d},{i / 7:.3f},2024-0{1 + i % 9}-1{i % 10},2024-05-0{1 + i % 9}T10:00:00+02:00,"
        f'"4{i % 9}.5,{i % 5}.25",{"" if i % 4 == 0 else f"texte {i}"}\n'
        for i in range(3000)
    )
    + '3000,01000,pas un prix,2024-02-30,hier,"91.0,2.0",fin\n'
)
TYPES = {
    "id": "int",
    "code_postal": "text",
    "prix": "double",
    "ouverture": "date",
    "maj": "datetime",
    "point": "geo_point_2d",
    "texte": "text",
}


def _fields() -> tuple[list[FieldSpec], pa.Schema]:
    fields = [FieldSpec(name=n, label=n, type=t, source=n, original_name=n) for n, t in TYPES.items()]
    return fields, pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in fields])


def test_parallel_read_and_convert_equal_the_sequential_read_and_convert_column() -> None:
    data = CSV.encode()
    fields, schema = _fields()
    sequential = pa.Table.from_batches(list(CsvExtractor().read(io.BytesIO(data), {}, ReadOptions())))
    expected = {n: convert_column(sequential.column(n), t) for n, t in TYPES.items()}

    read = ParallelCsvRead(io.BytesIO(data), {}, ReadOptions(), block_bytes=2048, first_block_bytes=2048)
    batches = list(read.batches())
    assert len(batches) > 10
    position = {n: i for i, n in enumerate(batches[0].schema.names)}
    converted = list(ordered_map(lambda b: convert_batch(b, position, fields, schema), batches))
    table = pa.Table.from_batches([c.batch for c in converted], schema)
    for name in TYPES:
        values, failed = expected[name]
        assert table.column(name).to_pylist() == values.to_pylist(), name
        failures = [f for c in converted for f in c.failures if f.spec.name == name]
        assert sum(f.count for f in failures) == pc.sum(failed).as_py(), name
    assert table.column("code_postal")[0].as_py() == "00000"
    assert table.column("texte")[0].as_py() is None and table.column("texte")[1].as_py() == "texte 1"
    assert table.column("maj").type == pa.timestamp("us", tz="UTC")
    last = converted[-1].failures
    assert {f.spec.name for f in last} == {"prix", "ouverture", "maj", "point"}
    assert all(f.raw[pc.indices_nonzero(f.failed)[0].as_py()].as_py() for f in last)


def test_a_text_column_with_empty_strings_is_still_converted() -> None:
    fields, schema = _fields()
    text = [f for f in fields if f.name == "texte"]
    batch = pa.record_batch({"texte": pa.array(["a", "", None])})
    out = convert_batch(batch, {"texte": 0}, text, pa.schema([schema.field("texte")]))
    assert out.batch.column(0).to_pylist() == ["a", None, None] and not out.failures


def test_ordered_map_keeps_order_and_bounds_what_runs_ahead() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def slow(item: int) -> int:
        with lock:
            started.append(item)
        time.sleep(0.002 * (item % 3))
        return item * 10

    consumed = []
    for result in ordered_map(slow, range(40), workers=2, ahead=3):
        consumed.append(result)
        assert len(started) <= len(consumed) + 3
    assert consumed == [i * 10 for i in range(40)]


def test_ordered_map_stops_cleanly_when_the_consumer_leaves() -> None:
    results = ordered_map(lambda i: i, iter(range(1000)), workers=2, ahead=2)
    assert next(results) == 0
    results.close()


def test_memory_pool_is_jemalloc_when_built_in() -> None:
    backend = tune_memory_pool()
    assert backend in ("jemalloc", "system", "mimalloc")
    assert tune_memory_pool() == backend == pa.default_memory_pool().backend_name


VALUE_SETS = {
    "int": [
        ["1", "-2", "+3", "007", None],
        ["1", "0x10", "2"],
        ["1", "0X1F"],
        ["1", " 2", "3 "],
        ["1", "-", "."],
        ["1", "NA", "n/a"],
        ["1", "1,5", "2"],
        ["9223372036854775807", "1"],
        ["99999999999999999999", "1"],
    ],
    "double": [
        ["1.5", "-2", "+3e2", ".5", "5.", None],
        ["1.5", "nan", "2"],
        ["1.5", "NaN"],
        ["inf", "-inf", "1"],
        ["1,5", "2,25"],
        ["1.5", "-", "."],
        ["1 234.5", "1"],
    ],
    "date": [
        ["2024-01-31", "1999-12-31", None],
        ["2024-02-30", "2024-01-01"],
        ["31/01/2024", "2024-01-01"],
        ["2024-01-01", "-"],
        ["2024-01-01T10:00:00", "2024-01-02"],
    ],
    "datetime": [
        ["2024-01-31T10:00:00+02:00", "2024-01-31T23:59:59Z", None],
        ["2024-01-31T10:00:00", "2024-01-31 10:00:00"],
        ["2024-01-31", "2024-01-31T10:00"],
        ["2024-01-31T10:00:00+0200", "2024-01-31T10:00:00.123456Z"],
        ["2024-01-31T10:00:00+02:00", "2024-01-31T10:00:00"],
        ["hier", "2024-01-31T10:00:00Z"],
    ],
    "geo_point_2d": [
        ["48.85,2.35", "-33.9,151.2", None],
        ["48.85, 2.35", " 48.85,2.35 "],
        ["48.85,2.35", "-", "n/a"],
        ["91.0,2.0", "48.0,2.0"],
        ["nan,nan", "48.0,2.0"],
        ["48.85;2.35", "1,2,3"],
        ["48,2", "0,0"],
    ],
}


def test_the_direct_cast_gives_what_convert_column_gives() -> None:
    for field_type, sets in VALUE_SETS.items():
        spec = FieldSpec(name="v", label="v", type=field_type, source="v", original_name="v")
        schema = pa.schema([pa.field("v", ARROW_TYPES[field_type])])
        for values in sets:
            raw = pa.array(values, pa.string())
            expected, failed = convert_column(raw, field_type)
            out = convert_batch(pa.record_batch({"v": raw}), {"v": 0}, [spec], schema)
            assert out.batch.column(0).to_pylist() == expected.to_pylist(), (field_type, values)
            count = sum(f.count for f in out.failures)
            assert count == (pc.sum(failed).as_py() or 0), (field_type, values)


def test_the_direct_cast_is_taken_for_clean_columns_only() -> None:
    from datawharf.datasets.fastpath import _direct

    assert _direct(pa.array(["1", None, "3"]), "int") is not None
    assert _direct(pa.array(["2024-01-31T10:00:00+02:00"]), "datetime") is not None
    assert _direct(pa.array(["1", "0x10"]), "int") is None
    assert _direct(pa.array(["1.5", "nan"]), "double") is None
    assert _direct(pa.array(["1", "NA"]), "int") is None
    assert _direct(pa.array(["x"]), "geo_point_2d") is None
    assert _direct(pa.array(["48.85,2.35", None]), "geo_point_2d") is not None


def test_dictionary_only_for_repeating_columns() -> None:
    from datawharf.datasets.fastpath import dictionary_columns

    batch = pa.record_batch(
        {
            "id": pa.array([str(i) for i in range(100)]),
            "ville": pa.array(["Lyon", "Brest"] * 50),
            "vide": pa.nulls(100, pa.string()),
            "point": pa.array(["1.0,2.0"] * 100),
        }
    )
    types = {"id": "int", "ville": "text", "vide": "text", "point": "geo_point_2d", "absent": "text"}
    fields = [FieldSpec(name=n, label=n, type=t, source=n, original_name=n) for n, t in types.items()]
    assert dictionary_columns(batch, batch.schema.names, fields) == ["ville"]


def test_background_writer_writes_in_order_and_delivers_the_writers_error(tmp_path: Path) -> None:
    """Row groups are written in order on the writer's thread; an error there (the warehouse's room
    check) reaches the caller at its next write or close; abandon() never raises and ends the thread."""
    import pyarrow.parquet as pq

    from datawharf.datasets.fastpath import BackgroundWriter

    schema = pa.schema([("n", pa.int64())])
    path = tmp_path / "ok.parquet"
    writer = BackgroundWriter(pq.ParquetWriter(path, schema))
    for start in range(0, 30, 10):
        writer.write(pa.table({"n": list(range(start, start + 10))}, schema=schema))
    writer.close()
    assert pq.read_table(path).column("n").to_pylist() == list(range(30))
    assert pq.ParquetFile(path).metadata.num_row_groups == 3

    written: list[int] = []

    def room_check() -> None:
        written.append(1)
        if len(written) == 2:
            raise OSError(28, "No space left on device")

    failing = BackgroundWriter(pq.ParquetWriter(tmp_path / "full.parquet", schema), after_write=room_check)
    failing.write(pa.table({"n": [1]}, schema=schema))
    failing.write(pa.table({"n": [2]}, schema=schema))
    with pytest.raises(OSError, match="No space"):
        failing.write(pa.table({"n": [3]}, schema=schema))
    failing.abandon()
    assert failing._pool._shutdown
