"""Every format but CSV, alone and inside every compression and archive, through detection, guessing
and reading; spreadsheets, GeoJSON and Parquet specifics; the bounded Parquet preview; the bad input."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import json
import lzma
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from datawharf.errors import ExtractError
from datawharf.extract._geo import centroid, transform_for
from datawharf.extract.archive import open_content
from datawharf.extract.base import ReadOptions, Sample
from datawharf.extract.geojson import GeoJsonExtractor, guess_epsg
from datawharf.extract.parquet import ParquetExtractor
from datawharf.extract.registry import EXTRACTORS
from datawharf.extract.xls import SpreadsheetExtractor
from tests.support.files import (
    CORPUS,
    HEADER,
    ROWS,
    CountingFile,
    make_ods,
    make_parquet,
    make_xls,
    make_xlsx,
    tar_bytes,
    zip_bytes,
)

XLS = SpreadsheetExtractor()
PARQUET = ParquetExtractor()
GEOJSON = GeoJsonExtractor()

SPREADSHEET_FIRST = {"station": "Station 0", "capacity": 10, "opened": dt.date(2024, 1, 1), "ratio": 2.5}
SPREADSHEET_LAST = {"station": "Station 29", "capacity": 39, "ratio": 9.75}

# format: (file name, content, extractor, guessed params subset, records, first record subset)
FORMATS: dict[str, tuple[str, Callable[[], bytes], str, dict[str, Any], int, dict[str, Any]]] = {
    "json": (
        "velib.json",
        lambda: (CORPUS / "ods-v21-export-json-array.json").read_bytes(),
        "jsonfile",
        {"json_root": ""},
        10,
        {"stationcode": "32304", "name": "Charcot - Benfleet", "capacity": 28},
    ),
    "socrata": (
        "rows.json",
        lambda: (CORPUS / "socrata-rows-json-meta-data-arrays.json").read_bytes(),
        "jsonfile",
        {"json_root": "data"},
        24,
        {"COMMUNITY AREA NAME": "Douglas", "ZIP CODE": "60616"},
    ),
    "jsonl": (
        "changes.jsonl",
        lambda: (CORPUS / "vbb-change-positions.jsonl").read_bytes(),
        "jsonl",
        {},
        25,
        {"station": "900000024201", "fromPosition": 0.2, "toPosition": 0.5},
    ),
    "geojson": (
        "velib.geojson",
        lambda: (CORPUS / "geojson-featurecollection-points-velib.geojson").read_bytes(),
        "geojson",
        {"epsg": 4326},
        20,
        {"stationcode": "11104", "capacity": 20, "geo_point_2d": "48.855907556,2.392570674"},
    ),
    "xlsx": ("stations.xlsx", make_xlsx, "xlsfile", {"first_row_no": 3}, 30, SPREADSHEET_FIRST),
    "xls": ("stations.xls", make_xls, "xlsfile", {"first_row_no": 3}, 30, SPREADSHEET_FIRST),
    "ods": ("stations.ods", make_ods, "xlsfile", {"first_row_no": 3}, 30, SPREADSHEET_FIRST),
    "parquet": ("stations.parquet", make_parquet, "parquet", {}, 30, SPREADSHEET_FIRST),
}


COMPRESSIONS: dict[str, Callable[[str, bytes], tuple[str, bytes]]] = {
    "none": lambda name, data: (name, data),
    "gzip": lambda name, data: (name + ".gz", gzip.compress(data)),
    "bz2": lambda name, data: (name + ".bz2", bz2.compress(data)),
    "zstd": lambda name, data: (name + ".zst", zstandard.ZstdCompressor().compress(data)),
    "xz": lambda name, data: (name + ".xz", lzma.compress(data)),
    "zip": lambda name, data: ("export.zip", zip_bytes({"LISEZMOI.md": b"# export", name: data})),
    "tar": lambda name, data: ("export.tar", tar_bytes({f"export/{name}": data}, "w")),
    "tar.gz": lambda name, data: ("export.tar.gz", tar_bytes({f"export/{name}": data}, "w:gz")),
}


def _run(blob: bytes, filename: str, max_records: int | None = None) -> tuple[str, dict[str, Any], pa.Table]:
    """What the preview does: peel containers, sample, detect, guess, read."""
    content, inner = open_content(io.BytesIO(blob), filename, {})
    head = content.read(1024 * 1024)
    content.seek(0)
    sample = Sample(head=head, filename=inner, is_complete=len(head) < 1024 * 1024)
    scores = {name: extractor.detect(sample) for name, extractor in EXTRACTORS.items()}
    best = max(scores, key=scores.__getitem__)
    params = EXTRACTORS[best].guess_params(sample)
    options = ReadOptions(max_records=max_records, filename=inner)
    table = pa.Table.from_batches(list(EXTRACTORS[best].read(content, params, options)))
    return best, params, table


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_in_every_container(fmt: str, compression: str) -> None:
    name, make, extractor, params, records, first = FORMATS[fmt]
    filename, blob = COMPRESSIONS[compression](name, make())
    best, guessed, table = _run(blob, filename)
    assert best == extractor
    assert {key: guessed[key] for key in params} == params
    assert table.num_rows == records
    row = table.slice(0, 1).to_pylist()[0]
    assert {key: row[key] for key in first} == first
    if extractor in ("xlsfile", "parquet"):
        last = table.slice(records - 1).to_pylist()[0]
        assert {key: last[key] for key in SPREADSHEET_LAST} == SPREADSHEET_LAST
    # The preview is the head of the same records.
    _best, _params, preview = _run(blob, filename, max_records=5)
    assert preview.num_rows == 5
    assert preview.to_pylist() == table.slice(0, 5).to_pylist()


# -- spreadsheets ----------------------------------------------------------------------------------
def _read(extractor: Any, data: bytes, params: dict[str, Any], **options: Any) -> pa.Table:
    return pa.Table.from_batches(list(extractor.read(io.BytesIO(data), params, ReadOptions(**options))))


def test_spreadsheet_guess_skips_the_title_and_reads_typed_cells() -> None:
    data = make_xlsx()
    params = XLS.guess_params(Sample(head=data, filename="s.xlsx", is_complete=True))
    assert params == {
        "sheet": "Stations",
        "first_row_no": 3,
        "headers_first_row": True,
        "extract_filename": False,
    }
    table = _read(XLS, data, params)
    assert table.schema.names == HEADER
    assert table.column("capacity").type == pa.int64()  # Excel's floats, whole: integers
    assert table.column("opened").to_pylist()[:2] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]  # date format
    assert table.column("ratio").to_pylist() == [r[3] for r in ROWS]  # formulas as their values


def test_spreadsheet_sheet_choice_headers_and_rows() -> None:
    data = make_xlsx()
    notes = _read(XLS, data, {"sheet": "Notes", "headers_first_row": False})
    assert notes.to_pylist() == [{"": "not this sheet"}]
    by_index = _read(XLS, data, {"sheet": "2", "headers_first_row": False})
    assert by_index.num_rows == 1
    no_header = _read(XLS, data, {"sheet": "Stations", "first_row_no": 4, "headers_first_row": False})
    assert no_header.num_rows == 30 and no_header.schema.names == ["", "", "", ""]
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(io.BytesIO(data), {"sheet": "Missing"}, ReadOptions()))
    assert caught.value.error_code == "sheet_not_found"
    assert caught.value.detail["sheets"] == ["Stations", "Notes"]
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(io.BytesIO(data), {"sheet": "Stations", "first_row_no": 500}, ReadOptions()))
    assert caught.value.error_code == "no_such_row"


def test_spreadsheet_preview_beyond_max_bytes_is_refused_by_its_size() -> None:
    data = make_xlsx()
    source = CountingFile(data)
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(source, {}, ReadOptions(max_records=20, max_bytes=len(data) // 2)))
    assert caught.value.error_code == "spreadsheet_too_large_for_preview"
    assert source.bytes_read <= 4096  # the signature, not the workbook
    assert _read(XLS, data, {"first_row_no": 3}, max_records=20, max_bytes=len(data)).num_rows == 20


def test_spreadsheet_extract_filename() -> None:
    table = _read(XLS, make_ods(), {"first_row_no": 3, "extract_filename": "true"}, filename="s.ods")
    assert set(table.column("filename").to_pylist()) == {"s.ods"}


# -- GeoJSON ---------------------------------------------------------------------------------------
def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_geojson_polygon_centroid_lines_and_null_geometry() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[2.0, 48.0], [4.0, 48.0], [4.0, 50.0], [2.0, 50.0], [2.0, 48.0]]],
    }
    line = {"type": "LineString", "coordinates": [[0.0, 10.0], [2.0, 10.0], [2.0, 12.0]]}
    collection = {
        "type": "FeatureCollection",
        "features": [_feature(square, n=1), _feature(line, n=2), _feature(None, n=3)],
    }
    data = json.dumps(collection).encode()
    table = _read(GEOJSON, data, {"epsg": 4326})
    assert table.column("geo_point_2d").to_pylist() == ["49.0,3.0", "10.5,1.5", None]
    assert json.loads(table.column("geo_shape")[0].as_py()) == square
    assert table.column("n").to_pylist() == [1, 2, 3]


def test_geojson_single_feature_bare_array_and_holes() -> None:
    holed = {
        "type": "Polygon",
        "coordinates": [
            [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]],
            [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]],
        ],
    }
    assert centroid(holed) == pytest.approx((7 / 3, 7 / 3))
    one = _read(GEOJSON, json.dumps(_feature(holed, name="solo")).encode(), {})
    assert one.column("name").to_pylist() == ["solo"]
    array = _read(GEOJSON, json.dumps([_feature({"type": "Point", "coordinates": [1.5, 2.5]})]).encode(), {})
    assert array.column("geo_point_2d").to_pylist() == ["2.5,1.5"]


# Reference points: projection origins (exact by definition) and Paris landmarks.
@pytest.mark.parametrize(
    ("epsg", "xy", "lonlat", "tolerance"),
    [
        (2154, (700_000.0, 6_600_000.0), (3.0, 46.5), 1e-9),
        (3946, (1_700_000.0, 5_200_000.0), (3.0, 46.0), 1e-9),
        (32631, (500_000.0, 0.0), (3.0, 0.0), 1e-9),
        (32733, (500_000.0, 10_000_000.0), (15.0, 0.0), 1e-9),
        (3857, (0.0, 0.0), (0.0, 0.0), 1e-9),
        (3857, (20_037_508.342789244, 0.0), (180.0, 0.0), 1e-9),
        (2154, (652_469.02, 6_862_035.26), (2.35220, 48.85660), 1e-4),
        # The Eiffel Tower (48.8584 N, 2.2945 E) in Lambert-93 and in UTM 31N.
        (2154, (648_237.3, 6_862_271.7), (2.2945, 48.8584), 1e-5),
        (32631, (448_252.0, 5_411_954.91), (2.2945, 48.8584), 1e-6),
        (3857, (261_845.7, 6_250_564.3), (2.35220, 48.85660), 1e-4),
    ],
)
def test_reprojections_hit_reference_points(
    epsg: int, xy: tuple[float, float], lonlat: tuple[float, float], tolerance: float
) -> None:
    transform = transform_for(epsg)
    assert transform is not None
    assert transform(*xy) == pytest.approx(lonlat, abs=tolerance)


def test_geojson_in_lambert93_is_guessed_and_reprojected() -> None:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    point = {"type": "Point", "coordinates": [652_469.02, 6_862_035.26]}
    named = json.dumps(
        {"type": "FeatureCollection", "crs": crs, "features": [_feature(point, id=1)]}
    ).encode()
    assert guess_epsg(named) == 2154
    bare = json.dumps({"type": "FeatureCollection", "features": [_feature(point, id=1)]}).encode()
    assert guess_epsg(bare) == 2154  # from the range of the coordinates
    table = _read(GEOJSON, named, {"epsg": 2154})
    lat, lon = (float(v) for v in table.column("geo_point_2d")[0].as_py().split(","))
    assert (lat, lon) == pytest.approx((48.8566, 2.3522), abs=1e-4)
    shape = json.loads(table.column("geo_shape")[0].as_py())
    assert shape["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
    with pytest.raises(ExtractError) as caught:
        _read(GEOJSON, named, {"epsg": 4326})
    assert caught.value.error_code == "geojson_out_of_range"
    with pytest.raises(ExtractError) as caught:
        _read(GEOJSON, named, {"epsg": 27572})
    assert caught.value.error_code == "geojson_unsupported_epsg"
    assert "2154" in caught.value.message


# -- Parquet ---------------------------------------------------------------------------------------
def test_parquet_keeps_types_and_batches_by_row_group() -> None:
    data = make_parquet(rows=30, row_group_size=10)
    batches = list(PARQUET.read(io.BytesIO(data), {}, ReadOptions(batch_size=1_000)))
    assert [b.num_rows for b in batches] == [10, 10, 10]
    assert batches[0].schema.field("capacity").type == pa.int32()
    assert batches[0].schema.field("opened").type == pa.date32()
    preview = list(PARQUET.read(io.BytesIO(data), {}, ReadOptions(max_records=25)))
    assert [b.num_rows for b in preview] == [10, 10, 5]  # small row groups: as many as 25 records need


def test_parquet_preview_reads_the_footer_and_the_first_row_group_only() -> None:
    rows = 400_000
    table = pa.table({"id": pa.array(range(rows), pa.int64()), "code": [f"c{i:09d}" for i in range(rows)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=20_000, compression="none")
    data = buffer.getvalue()
    source = CountingFile(data)
    preview = pa.Table.from_batches(list(PARQUET.read(source, {}, ReadOptions(max_records=20))))
    assert preview.column("id").to_pylist() == list(range(20))
    assert source.bytes_read < len(data) / 10, (source.bytes_read, len(data))


def test_parquet_preview_reads_the_first_pages_not_the_whole_first_row_group() -> None:
    # One row group of 1 MiB pages in three columns (about 9 MiB): a preview of 20 records needs the
    # first page of each column, not the group.
    rows = 300_000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "code": [f"c{i:09d}" for i in range(rows)],
            "note": [f"{i * 7919 % 1000003:x}-{i}" for i in range(rows)],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=rows, compression="none", use_dictionary=False)
    data = buffer.getvalue()
    source = CountingFile(data)
    preview = pa.Table.from_batches(list(PARQUET.read(source, {}, ReadOptions(max_records=20))))
    assert preview.column("note").to_pylist()[:2] == ["0-0", "1eef-1"]
    assert preview.num_rows == 20
    # 3 first pages (1 MiB each at most) plus the footer, against ~9 MiB for the group.
    assert source.bytes_read < 3.5 * 2**20 < len(data) / 2, (source.bytes_read, len(data))


# -- bad input -------------------------------------------------------------------------------------
def _fails(
    code: str, extractor: Any, data: bytes, filename: str, params: dict[str, Any] | None = None
) -> None:
    started = time.monotonic()
    with pytest.raises(ExtractError) as caught:
        sample = Sample(head=data[:65536], filename=filename, is_complete=len(data) <= 65536)
        guessed = extractor.guess_params(sample) if params is None else params
        for _batch in extractor.read(io.BytesIO(data), guessed, ReadOptions(filename=filename)):
            pass
    assert caught.value.error_code == code, caught.value.message
    assert time.monotonic() - started < 5


HTML_XLSX = (
    b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head><body><table><tr><td>a</td></tr></table>"
)


def test_xlsx_that_is_really_html_is_named_as_such() -> None:
    sample = Sample(head=HTML_XLSX, filename="export.xlsx", is_complete=True)
    scores = {name: extractor.detect(sample) for name, extractor in EXTRACTORS.items()}
    assert max(scores, key=scores.__getitem__) == "xlsfile"  # so that the user reads why it fails
    _fails("spreadsheet_is_html", XLS, HTML_XLSX, "export.xlsx")
    _fails("spreadsheet_is_html", XLS, HTML_XLSX, "export.xlsx", {})


@pytest.mark.parametrize(
    ("code", "extractor", "data", "filename"),
    [
        ("empty_file", XLS, b"", "empty.xlsx"),
        ("empty_file", PARQUET, b"", "empty.parquet"),
        ("empty_file", GEOJSON, b"", "empty.geojson"),
        ("spreadsheet_is_text", XLS, b"a\tb\n1\t2\n", "tsv-named.xls"),
        ("spreadsheet_invalid", XLS, make_xlsx()[:3000], "cut.xlsx"),
        ("parquet_invalid", PARQUET, make_parquet()[:-100], "cut.parquet"),
        ("parquet_invalid", PARQUET, b"PAR1" + b"\x00" * 50, "bad.parquet"),
        (
            "json_too_deep",
            GEOJSON,
            b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000,
            "deep.geojson",
        ),
    ],
)
def test_bad_files_get_specific_errors(code: str, extractor: Any, data: bytes, filename: str) -> None:
    _fails(code, extractor, data, filename, {} if code != "empty_file" else None)


def test_truncated_parquet_in_the_middle_of_its_pages() -> None:
    data = make_parquet(rows=3_000, row_group_size=1_000)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    # Keep the footer but damage the second row group's pages: the footer opens, reading fails.
    start = metadata.row_group(1).column(0).data_page_offset
    damaged = data[:start] + b"\xff" * 64 + data[start + 64 :]
    _fails("parquet_invalid", PARQUET, damaged, "damaged.parquet", {})


def test_every_error_code_of_these_formats_is_documented() -> None:
    import re

    source = Path(__file__).parents[2] / "src" / "datawharf" / "extract"
    modules = [
        "archive",
        "_jsonstream",
        "json",
        "jsonl",
        "geojson",
        "_geo",
        "xls",
        "_sheet_child",
        "_sheet_checks",
        "_sheet_sandbox",
        "parquet",
    ]
    codes = {
        code
        for module in modules
        for code in re.findall(r'error_code="([a-z_0-9]+)"', (source / f"{module}.py").read_text())
    }
    documented = set(
        re.findall(r"^\| `([a-z_0-9]+)` \|", (source.parents[2] / "docs" / "formats.md").read_text(), re.M)
    )
    assert len(codes) >= 30
    assert codes <= documented, sorted(codes - documented)
