"""The checks a workbook passes before calamine reads it, and the child process that reads it.

``check_workbook`` runs in-process here on generated bombs (``tests/support/sheet_bombs.py``); the
reader's deaths (out of memory, out of time) are provoked in a real child with limits that let a bomb
through the checks, and must come back as errors naming the setting, this process untouched.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from datawharf.errors import ExtractError
from datawharf.extract._sheet_checks import OdsScan, XlsxSheetScan, _inflate, check_workbook, column_number
from datawharf.extract._sheet_sandbox import _death
from datawharf.extract.base import ReadOptions
from datawharf.extract.limits import DEFAULT_SPREADSHEET_LIMITS, SpreadsheetLimits
from datawharf.extract.xls import SpreadsheetExtractor
from datawharf.settings import Settings
from tests.support import sheet_bombs
from tests.support.files import make_ods, make_xls, make_xlsx

XLS = SpreadsheetExtractor()
LIMITS = DEFAULT_SPREADSHEET_LIMITS
MiB = 1024 * 1024


def _refused(data: bytes, limits: SpreadsheetLimits = LIMITS) -> ExtractError:
    with pytest.raises(ExtractError) as caught:
        check_workbook(io.BytesIO(data), limits)
    return caught.value


def _scan(xml: bytes, chunk: int, limits: SpreadsheetLimits = LIMITS) -> XlsxSheetScan:
    scan = XlsxSheetScan(limits)
    for start in range(0, len(xml), chunk):
        scan.feed(xml[start : start + chunk])
    scan.finish()
    return scan


def test_column_letters_are_numbers() -> None:
    assert [column_number(c) for c in ("A", "Z", "AA", "az", "XFD")] == [1, 26, 27, 52, 16384]


def test_real_workbooks_pass() -> None:
    for data in (make_xlsx(), make_ods(), make_xls(), sheet_bombs.ods_trailing_empty()):
        check_workbook(io.BytesIO(data), LIMITS)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_the_bounding_box_comes_from_every_reference_whatever_the_chunks(chunk: int) -> None:
    rows = (
        '<row r="3" spans="1:2"><c r="B3" s="1"><v>1</v></c><c s="2" r="D7"><v>2</v></c></row>'
        '<x:row r="9"><x:c r="AA12" t="s"><x:v>0</x:v></x:c></x:row>'
    )
    scan = _scan(sheet_bombs.sheet(rows), chunk)
    assert (scan.min_col, scan.max_col, scan.min_row, scan.max_row) == (2, 27, 3, 12)
    assert (scan.cells, scan.rows) == (2, 1)  # the x: prefix is counted only under an x: root


def test_a_prefixed_sheet_is_counted_under_its_prefix() -> None:
    xml = (
        b'<x:worksheet xmlns:x="urn:x"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c>'
        b'<x:c r="B1"><x:v>2</x:v></x:c></x:row></x:sheetData></x:worksheet>'
    )
    scan = _scan(xml, 1 << 20)
    assert (scan.cells, scan.rows, scan.max_col) == (2, 1, 2)


def test_far_apart_cells_and_a_huge_dimension_are_refused_before_calamine() -> None:
    far = _refused(sheet_bombs.two_cells())
    assert far.error_code == "spreadsheet_too_large"
    assert (
        far.detail["cells"] == 16384 * 1048576 and far.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_CELLS"
    )
    dimension = _refused(sheet_bombs.huge_dimension())
    assert dimension.detail["dimension"] == "A1:XFD1048576"
    assert "DATAWHARF_SPREADSHEET_MAX_CELLS" in dimension.message


def test_cells_and_rows_are_counted_against_their_limits() -> None:
    data = make_xlsx()  # 4 columns, 33 rows from A1 (title) to D33
    assert _refused(data, replace(LIMITS, max_cells=100)).detail["cells"] == 132
    rows = _refused(data, replace(LIMITS, max_rows=20))
    assert rows.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_ROWS" and rows.detail["rows"] == 33
    check_workbook(io.BytesIO(data), replace(LIMITS, max_cells=132, max_rows=33))


def test_ods_repeats_are_expanded_and_trailing_empty_ones_are_not() -> None:
    refused = _refused(sheet_bombs.ods_repeated())
    assert refused.detail["cells"] == 100_000_000
    scan = OdsScan(LIMITS)
    with zipfile.ZipFile(io.BytesIO(sheet_bombs.ods_trailing_empty())) as book:
        scan.feed(book.read("content.xml"))
    assert (scan.cells, scan.max_row, scan.max_col) == (1, 0, 0)


def test_member_sizes_declared_and_real() -> None:
    strings = _refused(
        sheet_bombs.huge_shared_strings(size=2 * MiB), replace(LIMITS, max_shared_strings_bytes=MiB)
    )
    assert strings.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_SHARED_STRINGS_BYTES"
    assert strings.detail["declared_bytes"] > MiB
    bomb = _refused(sheet_bombs.zip_bomb_member(size=32 * MiB))
    assert "zip bomb" in bomb.message and bomb.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES"
    lying = _refused(sheet_bombs.lying_member(padding=MiB))
    assert lying.error_code == "spreadsheet_invalid" and "CRC" in lying.message


def test_a_member_is_counted_while_it_inflates() -> None:
    # zipfile stops at the declared size (and then fails on the CRC), so the count is a second guard: a
    # bound under what the part really holds stops it at the first chunk past the bound.
    data = sheet_bombs.xlsx(sheet_bombs.sheet('<row r="1"><c r="A1"><v>1</v></c></row>' + " " * (3 * MiB)))
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        info = book.getinfo("xl/worksheets/sheet1.xml")
        inflated = _inflate(book, info, LIMITS, MiB)
        assert len(next(inflated)) == MiB
        with pytest.raises(ExtractError) as caught:
            next(inflated)
    assert caught.value.detail == {
        "member": "xl/worksheets/sheet1.xml",
        "max_bytes": MiB,
        "setting": "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES",
    }


def test_truncated_and_corrupt_workbooks_are_invalid() -> None:
    assert _refused(make_xlsx()[:3000]).error_code == "spreadsheet_invalid"
    assert _refused(sheet_bombs.corrupt(make_xlsx())).error_code == "spreadsheet_invalid"


def test_the_settings_become_the_limits() -> None:
    settings = Settings(spreadsheet_max_cells=100, spreadsheet_max_memory=256 * MiB, spreadsheet_timeout=5)
    limits = settings.spreadsheet_limits
    assert (limits.max_cells, limits.max_memory_bytes, limits.timeout_seconds) == (100, 256 * MiB, 5)
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(io.BytesIO(make_xlsx()), {}, ReadOptions(spreadsheet=limits)))
    assert caught.value.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_CELLS"


def test_calamine_out_of_memory_kills_the_child_not_this_process() -> None:
    """With the cell check lifted, calamine asks for 512 GiB: the child aborts, the error names the memory."""
    limits = replace(LIMITS, max_cells=1 << 62, max_memory_bytes=256 * MiB)
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(io.BytesIO(sheet_bombs.two_cells()), {}, ReadOptions(spreadsheet=limits)))
    assert caught.value.error_code == "spreadsheet_too_large"
    assert caught.value.detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_MEMORY"
    assert "256 MiB" in caught.value.message


def test_a_child_past_its_time_is_killed() -> None:
    limits = replace(LIMITS, timeout_seconds=0.001)
    with pytest.raises(ExtractError) as caught:
        list(XLS.read(io.BytesIO(make_xlsx()), {"first_row_no": 3}, ReadOptions(spreadsheet=limits)))
    assert caught.value.error_code == "spreadsheet_too_large"
    assert caught.value.detail["setting"] == "DATAWHARF_SPREADSHEET_TIMEOUT"


def test_a_crash_is_an_invalid_spreadsheet() -> None:
    crash = _death(-11, False, LIMITS)
    assert crash.error_code == "spreadsheet_invalid" and "signal 11" in crash.message
    assert _death(-6, False, LIMITS).detail["setting"] == "DATAWHARF_SPREADSHEET_MAX_MEMORY"


def test_a_guess_and_a_read_in_the_child_give_what_calamine_gives() -> None:
    from datawharf.extract.base import Sample

    data = make_xlsx()
    params = XLS.guess_params(Sample(head=data, filename="s.xlsx", is_complete=True))
    assert params["sheet"] == "Stations" and params["first_row_no"] == 3
    batches = list(XLS.read(io.BytesIO(data), params, ReadOptions(batch_size=7)))
    assert [b.num_rows for b in batches] == [7, 7, 7, 7, 2]  # streamed batch by batch


def test_the_server_never_imports_the_reader() -> None:
    code = "import sys, datawharf.api.app; print('python_calamine' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_previews_wait_for_a_free_reader_and_publishes_do_not() -> None:
    from datawharf.extract import _sheet_sandbox

    taken = 0
    try:
        while _sheet_sandbox._SLOTS.acquire(blocking=False):  # every preview slot, as busy previews would
            taken += 1
        assert taken == _sheet_sandbox.MAX_CHILDREN
        quick = replace(LIMITS, timeout_seconds=0.2)
        with pytest.raises(_sheet_sandbox.SpreadsheetReadersBusy) as caught:
            list(
                XLS.read(
                    io.BytesIO(make_xlsx()),
                    {"first_row_no": 3},
                    ReadOptions(max_records=20, spreadsheet=quick),
                )
            )
        assert caught.value.http_status == 503 and caught.value.error_code == "spreadsheet_readers_busy"
        published = list(XLS.read(io.BytesIO(make_xlsx()), {"first_row_no": 3}, ReadOptions()))
        assert sum(batch.num_rows for batch in published) == 30
    finally:
        for _ in range(taken):
            _sheet_sandbox._SLOTS.release()


def test_the_child_reads_a_workbook_without_the_servers_secrets_in_its_environment(tmp_path: Path) -> None:
    """The forkserver inherits the server's environment; the child drops DATAWHARF_* and AWS_* before it
    reads, so a reader exploited by a crafted workbook finds neither the encryption key nor credentials."""
    workbook = tmp_path / "s.xlsx"
    workbook.write_bytes(make_xlsx())
    code = (
        "import os, sys, multiprocessing as mp\n"
        "from datawharf.extract._sheet_child import serve\n"
        "from datawharf.extract.limits import SpreadsheetLimits\n"
        "import dataclasses\n"
        "ours, theirs = mp.Pipe()\n"
        "request = {'path': sys.argv[1], 'mode': 'guess',"
        " 'limits': dataclasses.asdict(SpreadsheetLimits())}\n"
        "serve(request, theirs)\n"
        "frames = [ours.recv_bytes()[:1] for _ in range(2)]\n"
        "print(frames, sorted(n for n in os.environ if n.startswith(('DATAWHARF_', 'AWS_'))))\n"
    )
    env = {**os.environ, "DATAWHARF_SECRET_KEY": "k" * 44, "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(workbook)], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[b'G', b'D'] []", result.stdout + result.stderr
