"""XLSX with xlsxwriter in ``constant_memory`` mode: each row goes to a temporary file as it is written,
so memory stays flat whatever the size. A zip's central directory comes last, so the workbook is
finished on disk (a temporary file) and then streamed in chunks, and removed.

Excel has no timezones: datetimes are written as the wall clock in the request's timezone. A sheet holds
1,048,576 rows: ``check_rows`` refuses larger exports before anything runs (use csv for those).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Iterable, Iterator

import pyarrow as pa
import xlsxwriter

from datawharf.errors import InvalidInput
from datawharf.explore.values import local_datetime
from datawharf.exports.context import ExportContext

MAX_ROWS = 1_048_576 - 1  # one for the header
MAX_CELL_CHARS = 32_767
CHUNK = 1024 * 1024


def check_rows(rows: int) -> None:
    if rows > MAX_ROWS:
        raise InvalidInput(
            f"This export has {rows} records; an xlsx sheet holds at most {MAX_ROWS}. Narrow it with "
            "where or limit, or export as csv or parquet.",
            error_code="export_too_large",
            detail={"format": "xlsx", "records": rows, "max_records": MAX_ROWS},
        )


def write_xlsx(context: ExportContext, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    with tempfile.TemporaryDirectory(prefix="datawharf-xlsx-") as tmp, tempfile.TemporaryFile() as out:
        workbook = xlsxwriter.Workbook(
            out,
            {"constant_memory": True, "tmpdir": tmp, "strings_to_numbers": False, "strings_to_urls": False,
             "strings_to_formulas": False, "nan_inf_to_errors": False},
        )  # fmt: skip
        sheet = workbook.add_worksheet(context.dataset_id[:31] or "records")
        bold = workbook.add_format({"bold": True})
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for col, header in enumerate(context.headers):
            sheet.write_string(0, col, header[:MAX_CELL_CHARS], bold)
        types = [c.type for c in context.columns]
        row = 0
        for batch in batches:
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for i in range(batch.num_rows):
                row += 1
                for col, values in enumerate(columns):
                    value = values[i]
                    if value is None:
                        continue
                    kind = types[col]
                    if kind == "datetime":
                        local = local_datetime(value, context.zone).replace(tzinfo=None)
                        sheet.write_datetime(row, col, local, datetime_format)
                    elif kind == "date" and isinstance(value, dt.date):
                        sheet.write_datetime(row, col, value, date_format)
                    elif kind == "geo_point_2d":
                        sheet.write_string(row, col, f"{value['lat']}, {value['lon']}")
                    elif isinstance(value, bool):
                        sheet.write_boolean(row, col, value)
                    elif isinstance(value, int | float):
                        if isinstance(value, float) and not math.isfinite(value):
                            continue
                        sheet.write_number(row, col, value)
                    else:
                        sheet.write_string(row, col, str(value)[:MAX_CELL_CHARS])
        workbook.close()
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk
