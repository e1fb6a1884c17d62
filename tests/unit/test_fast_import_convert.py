"""The publish's parallel conversion: same values and failures as ``convert_column``, in order, bounded."""

from __future__ import annotations

import io
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc

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
