"""csvfile: guessing over the real-world corpus and our messy CSVs, full reads, ragged rows, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from datawharf.errors import ExtractError
from datawharf.extract.base import ReadOptions, Sample
from datawharf.extract.csv import CsvExtractor
from datawharf.extract.preview import preview

CORPUS = Path("/work/shared/corpus")
MESSY = Path(__file__).parents[1] / "data" / "messy_csv"
EXPECTED = json.loads((MESSY / "expected.json").read_text(encoding="utf-8"))
CSV = CsvExtractor()


def _sample(path: Path) -> Sample:
    return Sample(head=path.read_bytes(), filename=path.name, is_complete=True)


def _read_all(data: bytes, params: dict[str, Any], **options: Any) -> pa.Table:
    batches = list(CSV.read(io.BytesIO(data), params, ReadOptions(**options)))
    return pa.Table.from_batches(batches)


# The expectations of /work/shared/corpus/MANIFEST.md, file by file: separator, encoding, header row
# (first_row_no), whether it is a header, columns, records of a full read.
CORPUS_TABLE = [
    ("ods-export-semicolon-geo-point-geo-shape.csv", ";", "utf-8", 1, True, 10, 21),
    ("ods-export-semicolon-multiline-quoted-museofile.csv", ";", "utf-8", 1, True, 27, 3),
    ("velib-stations-semicolon-latlon-pair.csv", ";", "utf-8", 1, True, 6, 68),
    ("meteofrance-semicolon-plain.csv", ";", "utf-8", 1, True, 8, 100),
    ("datagouv-subventions-comma-escaped-quotes.csv", ",", "utf-8", 1, True, 14, 65),
    ("irve-comma-quoted-commas-bracket-coords.csv", ",", "utf-8", 1, True, 52, 5),
    ("joconde-pipe-all-quoted-inner-semicolons.csv", "|", "utf-8", 1, True, 68, 5),
    ("dvf-pipe-decimal-comma-empty-cols.txt", "|", "utf-8", 1, True, 43, 100),
    ("mx-budget-comma-quoted-thousands-spanish.csv", ",", "utf-8", 1, True, 8, 23),
    # 52 records and the all-empty trailing row the manifest counts as the 53rd row.
    ("datagov-us-comma-trailing-sep-thousands.csv", ",", "utf-8", 1, True, 10, 53),
    # The manifest: "a guesser should at least skip lines 1-3"; we start at the first header line (4),
    # so lines 5-43 (39 rows) are records.
    ("nl-budget-comma-title-rows-multiheader.csv", ",", "utf-8", 4, True, 20, 39),
    # Header on line 12; 60 data rows, then the 16 non-blank footer lines, kept as (padded) records:
    # footers are not guessed away.
    ("gbe-bund-semicolon-title-footer-padding.csv", ";", "utf-8", 12, True, 11, 76),
    ("insee-cog-reg2016-tab.tsv", "\t", "utf-8", 1, True, 5, 18),
    ("insee-cog-reg2016-tab-latin1.tsv", "\t", "windows-1252", 1, True, 5, 18),
    ("us-census-gazetteer-counties-noheader.csv", ",", "utf-8", 1, False, 10, 70),
]


def test_corpus_table_covers_every_delimited_file() -> None:
    delimited = {p.name for p in CORPUS.iterdir() if p.suffix in (".csv", ".tsv", ".txt")}
    assert delimited == {row[0] for row in CORPUS_TABLE}


@pytest.mark.parametrize(
    ("name", "sep", "encoding", "first_row", "headers", "width", "records"), CORPUS_TABLE
)
def test_corpus_guess_and_full_read(
    name: str, sep: str, encoding: str, first_row: int, headers: bool, width: int, records: int
) -> None:
    path = CORPUS / name
    sample = _sample(path)
    assert CSV.detect(sample) >= 0.6
    params = CSV.guess_params(sample)
    assert params["separator"] == sep
    assert params["encoding"] == encoding
    assert params["first_row_no"] == first_row
    assert params["headers_first_row"] is headers
    table = _read_all(path.read_bytes(), params)
    assert table.num_columns == width
    assert table.num_rows == records


def test_corpus_latin1_decodes_to_the_utf8_original() -> None:
    latin = CORPUS / "insee-cog-reg2016-tab-latin1.tsv"
    utf8 = CORPUS / "insee-cog-reg2016-tab.tsv"
    left = _read_all(latin.read_bytes(), CSV.guess_params(_sample(latin)))
    right = _read_all(utf8.read_bytes(), CSV.guess_params(_sample(utf8)))
    assert left.to_pylist() == right.to_pylist()
    assert "Île-de-France" in left.column("NCCENR").to_pylist()


def test_corpus_multiline_quoted_values_stay_in_one_record() -> None:
    path = CORPUS / "ods-export-semicolon-multiline-quoted-museofile.csv"
    table = _read_all(path.read_bytes(), CSV.guess_params(_sample(path)))
    assert table.num_rows == 3
    cells = [v for column in table.columns for v in column.to_pylist()]
    assert any(v and "\n" in v for v in cells), "quoted newlines were split into records"
    assert "Archéologie;Ethnologie" in " ".join(v for v in cells if v)


def test_corpus_preview_types_and_geo() -> None:
    path = CORPUS / "ods-export-semicolon-geo-point-geo-shape.csv"
    with path.open("rb") as stream:
        result = preview(stream, path.name)
    types = {f["name"]: f["type"] for f in result.fields}
    assert types["geo_point_2d"] == "geo_point_2d"
    assert types["geo_shape"] == "geo_shape"
    assert types["date_debut_dispo_data"] == "datetime"
    first = result.records[0]
    assert first["geo_shape"]["type"] == "LineString"
    assert first["date_debut_dispo_data"] == "2013-09-05T02:00:00+00:00"  # +02:00 in the file
    assert 48 < first["geo_point_2d"]["lat"] < 49 and 2 < first["geo_point_2d"]["lon"] < 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_messy_csv(name: str) -> None:
    expected = EXPECTED[name]
    path = MESSY / name
    params = CSV.guess_params(_sample(path))
    for key, value in expected["params"].items():
        assert params[key] == value, key
    with path.open("rb") as stream:
        result = preview(stream, path.name)
    assert result.extractor == "csvfile"
    assert len(result.records) == expected["records"]
    assert {f["name"]: f["type"] for f in result.fields} == expected["types"]
    if expected["first"] is not None:
        assert result.records[0] == expected["first"]


def test_messy_corpus_has_twenty_files_at_least() -> None:
    assert len(EXPECTED) >= 20
    assert {p.name for p in MESSY.iterdir() if p.name != "expected.json"} == set(EXPECTED)


def test_ragged_rows_are_padded_in_place_across_blocks() -> None:
    # 300,000 rows over many 1 MiB blocks; every 997th row lost its last two cells, every 1009th has
    # an extra empty one. Order and values must survive the repair.
    lines = ["a;b;c;d"]
    for i in range(300_000):
        if i % 997 == 0:
            lines.append(f"{i};x{i}")
        elif i % 1009 == 0:
            lines.append(f"{i};x{i};y;z;")
        else:
            lines.append(f"{i};x{i};y;z")
    data = ("\n".join(lines) + "\n").encode()
    table = _read_all(data, {"separator": ";"})
    assert table.num_rows == 300_000
    assert table.column("a").to_pylist() == [str(i) for i in range(300_000)]
    assert table.column("c")[997].as_py() is None
    assert table.column("c")[1009].as_py() == "y"


def test_long_field_grows_the_block_and_restarts_without_duplicates() -> None:
    big = "x" * (3 * 1024 * 1024)  # longer than a publish block
    rows = [f"{i},v{i}" for i in range(50_000)]
    rows[40_000] = f'40000,"{big}"'
    data = ("id,value\n" + "\n".join(rows) + "\n").encode()
    table = _read_all(data, {"separator": ","})
    assert table.column("id").to_pylist() == [str(i) for i in range(50_000)]
    assert len(table.column("value")[40_000].as_py()) == len(big)


def test_max_records_and_extract_filename() -> None:
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(1000))
    table = _read_all(data, {"separator": ",", "extract_filename": True}, max_records=7, filename="f.csv")
    assert table.num_rows == 7
    assert table.column("filename").to_pylist() == ["f.csv"] * 7


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "utf-16"])
def test_forced_wrong_encoding_is_a_clear_error(encoding: str) -> None:
    data = (CORPUS / "insee-cog-reg2016-tab-latin1.tsv").read_bytes()
    with pytest.raises(ExtractError) as caught:
        _read_all(data, {"separator": "\t", "encoding": encoding})
    assert caught.value.error_code == "invalid_encoding"
    assert f"not valid {encoding}" in caught.value.message and "windows-1252" in caught.value.message


def test_an_invalid_byte_far_into_the_file_is_an_encoding_error_too() -> None:
    data = b"a,b\n" + b"x,y\n" * 100_000 + b"caf\xe9,1\n"  # past the header peek, in a later block
    with pytest.raises(ExtractError) as caught:
        _read_all(data, {"separator": ","})
    assert caught.value.error_code == "invalid_encoding"


def test_unknown_encoding_and_bad_separator_are_parameter_errors() -> None:
    with pytest.raises(ExtractError) as caught:
        _read_all(b"a,b\n1,2\n", {"encoding": "no-such-codec"})
    assert caught.value.error_code == "unknown_encoding"
    with pytest.raises(ExtractError) as caught:
        _read_all(b"a,b\n1,2\n", {"separator": ";;"})
    assert caught.value.error_code == "invalid_parameter"


def test_tab_can_be_written_as_backslash_t() -> None:
    table = _read_all(b"a\tb\n1\t2\n", {"separator": "\\t"})
    assert table.to_pylist() == [{"a": "1", "b": "2"}]


def test_empty_and_binary_samples() -> None:
    with pytest.raises(ExtractError) as caught:
        CSV.guess_params(Sample(head=b"", filename="e.csv", is_complete=True))
    assert caught.value.error_code == "empty_file"
    garbage = bytes(range(256)) * 64
    assert CSV.detect(Sample(head=garbage, filename="g.csv")) < 0.1
    assert CSV.detect(Sample(head=garbage, filename="g.bin")) == 0
    with pytest.raises(ExtractError) as caught:
        CSV.guess_params(Sample(head=garbage, filename="g.csv"))
    assert caught.value.error_code == "binary_content"


def test_parameters_follow_the_reference_shape() -> None:
    declared = {p.name: p.to_dict() for p in CSV.parameters}
    assert set(declared) == {
        "encoding",
        "separator",
        "escapechar",
        "doublequote",
        "first_row_no",
        "headers_first_row",
        "extract_filename",
    }
    for shape in declared.values():
        assert set(shape) == {"name", "type", "label", "description", "default", "choices", "is_mandatory"}
    assert declared["separator"]["choices"] == [",", ";", "\t", "|", " "]


def test_first_row_past_the_end_and_too_many_fields() -> None:
    with pytest.raises(ExtractError) as caught:
        _read_all(b"a,b\n1,2\n", {"separator": ",", "first_row_no": 9})
    assert caught.value.error_code == "no_such_row"
    wide = (",".join(["x"] * 5000) + "\n").encode() * 3
    with pytest.raises(ExtractError) as caught:
        _read_all(wide, {"separator": ","})
    assert caught.value.error_code == "too_many_fields"


def test_no_header_gives_positional_names() -> None:
    path = CORPUS / "us-census-gazetteer-counties-noheader.csv"
    with path.open("rb") as stream:
        result = preview(stream, path.name)
    assert [f["name"] for f in result.fields][:3] == ["column_1", "column_2", "column_3"]
    assert result.records[0]["column_1"] == "AL"
    assert result.records[0]["column_2"] == "01001"  # a code: its leading zero stays
