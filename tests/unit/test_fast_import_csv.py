"""The parallel block reader gives exactly the sequential reader's records.

Tiny blocks (a few hundred bytes) force a cut every few records, so quoted newlines, doubled quotes,
ragged rows, BOMs and cp1252 bytes land on block boundaries; the comparison is on the records (empty
cells are null in the parallel reader and "" in the sequential one, which every type converts to null).
"""

from __future__ import annotations

import codecs
import io
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datawharf.errors import ExtractError
from datawharf.extract.base import ReadOptions, Sample
from datawharf.extract.csv import CsvExtractor
from datawharf.extract.csv_parallel import ParallelCsvRead, parallel_eligible, read_parallel, safe_cut

MESSY = Path(__file__).resolve().parent.parent / "data" / "messy_csv"
CORPUS = Path("/work/shared/corpus")
CSV = CsvExtractor()


def _files() -> list[Path]:
    paths = [p for p in sorted(MESSY.iterdir()) if p.suffix in (".csv", ".tsv", ".txt", ".dat")]
    if CORPUS.is_dir():
        paths += [p for p in sorted(CORPUS.iterdir()) if p.suffix in (".csv", ".tsv", ".txt")]
    return paths


def _normalized(batches: list[pa.RecordBatch]) -> pa.Table:
    table = pa.Table.from_batches(batches).combine_chunks()
    columns = [pc.if_else(pc.equal(c, ""), pa.scalar(None, c.type), c) for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _sequential(data: bytes, params: dict[str, Any], **options: Any) -> pa.Table:
    return _normalized(list(CSV.read(io.BytesIO(data), params, ReadOptions(**options))))


def _parallel(data: bytes, params: dict[str, Any], block: int = 256, **options: Any) -> tuple[pa.Table, Any]:
    read = ParallelCsvRead(
        io.BytesIO(data), params, ReadOptions(**options), block_bytes=block, first_block_bytes=block
    )
    return _normalized(list(read.batches())), read


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
@pytest.mark.parametrize("block", [64, 300, 4096])
def test_same_records_as_the_sequential_reader_on_the_corpora(path: Path, block: int) -> None:
    data = path.read_bytes()
    params = CSV.guess_params(Sample(head=data, filename=path.name, is_complete=True))
    try:
        expected = _sequential(data, params)
    except ExtractError as exc:
        with pytest.raises(ExtractError) as raised:
            _parallel(data, params, block)
        assert raised.value.error_code == exc.error_code
        return
    got, _ = _parallel(data, params, block)
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()


def test_messy_corpus_expectations_hold_through_the_parallel_reader() -> None:
    expected = json.loads((MESSY / "expected.json").read_text())
    checked = 0
    for name, spec in expected.items():
        data = (MESSY / name).read_bytes()
        params = {**CSV.guess_params(Sample(head=data, filename=name, is_complete=True)), **spec["params"]}
        if not parallel_eligible(CSV._complete(params), ReadOptions()):
            continue
        table, _ = _parallel(data, params, 128)
        assert table.num_rows == spec["records"], name
        checked += 1
    assert checked >= 15


def _tricky(rows: int, seed: int, newline: str = "\n") -> str:
    rng = random.Random(seed)
    lines = ["id,nom,note,code,texte"]
    for i in range(rows):
        text = rng.choice(
            [
                "simple",
                '"avec, virgule"',
                '"sur\ndeux lignes"',
                '"guillemets ""doublés"""',
                '"""début"" et\r\nfin"',
                "",
                '""',
                '"a\n\n\nb"',
            ]
        )
        extra = rng.choice(["", "", "", ",en trop", None])
        cells = [
            str(i),
            f"Équipe {rng.randint(0, 99)}",
            f"{rng.random():.3f}",
            f"{rng.randint(0, 9999):05d}",
            text,
        ]
        if extra is None:
            cells = cells[:3]  # a ragged short row
        line = ",".join(cells) + (extra or "")
        lines.append(line)
    return newline.join(lines) + newline


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block", [40, 97, 1000])
def test_quoted_newlines_doubled_quotes_and_ragged_rows_on_block_edges(seed: int, block: int) -> None:
    data = _tricky(2000, seed, "\r\n" if seed % 2 else "\n").encode()
    params = {"separator": ",", "encoding": "utf-8"}
    expected = _sequential(data, params)
    got, read = _parallel(data, params, block)
    assert read.blocks > 3 and read.fallback_at is None
    assert got.to_pylist() == expected.to_pylist()
    assert got.num_rows == 2000


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_bom_and_cp1252(encoding: str) -> None:
    data = _tricky(2000, 7).encode(encoding)
    params = {"separator": ",", "encoding": "windows-1252" if encoding == "cp1252" else "utf-8"}
    expected = _sequential(data, params)
    got, read = _parallel(data, params, 120)
    assert read.fallback_at is None and read.blocks > 3
    assert got.to_pylist() == expected.to_pylist()
    assert got.column("nom")[0].as_py().startswith("Équipe")
    assert got.column_names[0] == "id"


def test_bom_with_a_quoted_header_and_no_header_row() -> None:
    data = codecs.BOM_UTF8 + b'"a","b"\n"1","x"\n"2","y"\n'
    for headers in (True, False):
        params = {"separator": ",", "headers_first_row": headers}
        expected = _sequential(data, params)
        got, read = _parallel(data, params, 8)
        assert read.fallback_at is None
        assert got.to_pylist() == expected.to_pylist()


def test_a_stray_quote_hands_over_to_the_sequential_reader_at_a_good_boundary() -> None:
    good = "".join(f'{i},"texte\nmultiligne {i}",x\n' for i in range(5000))
    stray = 'tuyau,12" pouces,"et une\nvraie ligne"\n'
    data = ("a,b,c\n" + good + stray + good).encode()
    params = {"separator": ","}
    expected = _sequential(data, params)
    got, read = _parallel(data, params, 200)
    assert read.fallback_at is not None and read.fallback_at > 0 and read.blocks > 3
    assert got.to_pylist() == expected.to_pylist()
    assert got.num_rows == 10001
    assert got.column("b")[5000].as_py() == '12" pouces'


def test_header_skip_and_title_lines_and_extract_filename() -> None:
    data = b"Titre du fichier\n\nid;nom\n" + b"".join(b"%d;n%d\n" % (i, i) for i in range(20000))
    params = {"separator": ";", "first_row_no": 3, "extract_filename": True}
    expected = _sequential(data, params, filename="f.csv")
    got, read = _parallel(data, params, 64, filename="f.csv")
    assert read.blocks > 10
    assert got.to_pylist() == expected.to_pylist()
    assert got.column("filename")[0].as_py() == "f.csv" and got.num_rows == 20000


def test_a_record_longer_than_a_block_grows_the_block() -> None:
    long_value = "x" * 5000
    data = ("a,b\n" + "".join(f'{i},"{long_value}\n{i}"\n' for i in range(40))).encode()
    got, _ = _parallel(data, {"separator": ","}, 100)
    assert got.num_rows == 40 and got.column("b")[3].as_py() == f"{long_value}\n3"


def test_header_only_and_empty_data_give_the_schema() -> None:
    got, _ = _parallel(b"a,b,c\n", {"separator": ","}, 64)
    assert got.num_rows == 0 and got.column_names == ["a", "b", "c"]


def test_errors_are_the_sequential_ones() -> None:
    data = b"a,b\n" + b"1,x\n" * 5000 + b"2,\xff\xfe\n"
    with pytest.raises(ExtractError) as raised:
        _parallel(data, {"separator": ",", "encoding": "utf-8"}, 1024)
    assert raised.value.error_code == "invalid_encoding"


def test_safe_cut() -> None:
    sep = ord(",")
    assert safe_cut(b'1,"a\nb"\n2,c', sep) == 8
    assert safe_cut(b'1,"a\nb', sep) is None
    assert safe_cut(b'1,"a ""x""\nb"\n2', sep) == 14
    assert safe_cut(b'1,12" x\n2,y\n', sep) == -1  # a quote in the middle of an unquoted value
    assert safe_cut(b"1,2\n3", sep, final=True) == 5


def test_dialects_the_block_reader_leaves_to_the_sequential_one() -> None:
    assert not parallel_eligible(CSV._complete({"escapechar": "\\"}), ReadOptions())
    assert not parallel_eligible(CSV._complete({"encoding": "utf-16"}), ReadOptions())
    assert not parallel_eligible(CSV._complete({}), ReadOptions(max_records=20))
    assert parallel_eligible(CSV._complete({"encoding": "windows-1252", "separator": ";"}), ReadOptions())
    data = b"a,b\n" + b'1,"x \\" y"\n' * 10
    params = {"separator": ",", "escapechar": "\\", "doublequote": False}
    got = _normalized(list(read_parallel(io.BytesIO(data), params, ReadOptions())))
    assert got.num_rows == 10 and got.column("b")[0].as_py() == 'x " y'


def test_stopping_early_releases_the_threads() -> None:
    data = _tricky(3000, 1).encode()
    read = ParallelCsvRead(io.BytesIO(data), {"separator": ","}, ReadOptions(), block_bytes=512, in_flight=2)
    batches = read.batches()
    first = next(batches)
    assert first.num_rows > 0
    batches.close()  # must not hang on the reader thread waiting for a slot


def test_ascii_blocks_skip_the_utf8_check_and_others_keep_it() -> None:
    ascii_rows = b"a,b\n" + b"".join(b"%d,plain %d\n" % (i, i) for i in range(20_000))
    got, _ = _parallel(ascii_rows, {"separator": ","}, 4096)
    assert got.num_rows == 20_000 and got.column("b")[5].as_py() == "plain 5"
    # A late block with an invalid byte is not ASCII: checked, and refused as before.
    with pytest.raises(ExtractError) as raised:
        _parallel(ascii_rows + b"9,caf\xe9\n", {"separator": ","}, 4096)
    assert raised.value.error_code == "invalid_encoding"
