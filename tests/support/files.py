"""Files the tests generate: the table every spreadsheet and Parquet fixture holds, archives around any
content, and a file object counting what was read (as the S3 reader reports its fetches).

Generated in the test, never committed (binary fixtures), except the real-world corpus under ``CORPUS``.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter
import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P

CORPUS = Path("/work/shared/corpus")


class CountingFile(io.BytesIO):
    """A BytesIO that counts the bytes handed out, so a test can assert how little a reader pulled."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# A small table every generated fixture holds: a title row, a blank row, then header and 30 records.
TITLE = "Relevé des stations — 2024"
HEADER = ["station", "capacity", "opened", "ratio"]
ROWS = [[f"Station {i}", 10 + i, dt.date(2024, 1, 1 + i % 28), (10 + i) / 4] for i in range(30)]


# -- generated fixtures ----------------------------------------------------------------------------
def make_xlsx() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Stations")
    book.add_worksheet("Notes").write(0, 0, "not this sheet")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, TITLE)
    sheet.write_row(2, 0, HEADER)
    for r, (name, capacity, opened, _ratio) in enumerate(ROWS, start=3):
        sheet.write_string(r, 0, name)
        sheet.write_number(r, 1, capacity)
        sheet.write_datetime(r, 2, dt.datetime.combine(opened, dt.time()), date)
        # A formula, with the value Excel would have saved with it.
        sheet.write_formula(r, 3, f"=B{r + 1}/4", None, capacity / 4)
    book.close()
    return buffer.getvalue()


def make_xls() -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Stations")
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheet.write(0, 0, TITLE)
    for c, name in enumerate(HEADER):
        sheet.write(2, c, name)
    for r, (name, capacity, opened, ratio) in enumerate(ROWS, start=3):
        sheet.write(r, 0, name)
        sheet.write(r, 1, capacity)
        sheet.write(r, 2, opened, date)
        sheet.write(r, 3, ratio)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_ods() -> bytes:
    document = OpenDocumentSpreadsheet()
    table = Table(name="Stations")
    for row in [[TITLE], [], HEADER, *ROWS]:
        table_row = TableRow()
        for value in row:
            if isinstance(value, int | float):
                cell = TableCell(valuetype="float", value=value)
            elif isinstance(value, dt.date):
                cell = TableCell(valuetype="date", datevalue=value.isoformat())
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value)))
            table_row.addElement(cell)
        table.addElement(table_row)
    document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def make_parquet(rows: int = 30, row_group_size: int = 10) -> bytes:
    table = pa.table(
        {
            "station": [f"Station {i}" for i in range(rows)],
            "capacity": pa.array([10 + i for i in range(rows)], pa.int32()),
            "opened": [dt.date(2024, 1, 1 + i % 28) for i in range(rows)],
            "ratio": [(10 + i) / 4 for i in range(rows)],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()
