"""``xlsfile``: spreadsheets (.xlsx, .xlsm, .xlsb, .xls, .ods) through python-calamine.

Formulas come out as the values the spreadsheet saved with them (calamine reads cached results, never
evaluates). Numbers Excel stores as floats come out as integers when whole; dates as dates or
datetimes; empty cells as null. ``first_row_no`` counts rows as the spreadsheet shows them (row 1 is
the sheet's first row even when it is empty), so a title block above the table is skipped as in CSV.

Calamine reads the whole workbook into memory (a zip or OLE2 container cannot be parsed as a stream),
so a preview costs the file's size and files over ``MAX_SPREADSHEET_BYTES`` are refused up front; a
spreadsheet is bounded anyway (1,048,576 rows).

Error codes: ``spreadsheet_is_html`` (a web page saved under a spreadsheet name, as many portals'
"Excel" exports are), ``spreadsheet_is_text``, ``spreadsheet_invalid``, ``spreadsheet_encrypted``,
``spreadsheet_too_large``, ``spreadsheet_too_large_for_preview`` (calamine reads a workbook whole, so a
preview bounded by ``ReadOptions.max_bytes`` refuses a larger file by its size, before reading it),
``sheet_not_found``, ``sheet_empty``, ``no_such_row``, ``empty_file``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa
import python_calamine as calamine

from datawharf.errors import ExtractError
from datawharf.extract._io import random_access, stream_size
from datawharf.extract._records import as_bool, filename_constants, list_batches
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample

MAX_SPREADSHEET_BYTES = 200 * 1024 * 1024
GUESS_ROWS = 50
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


def _is_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:256].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<table", b"<head", b"<body", b"<meta")) or (
        start.startswith(b"<") and (b"<html" in start or b"<table" in start)
    )


def _is_spreadsheet_zip(head: bytes) -> bool:
    if not head.startswith(_ZIP):
        return False
    name = head[30:80]
    return name.startswith((b"[Content_Types].xml", b"xl/", b"_rels/", b"docProps/")) or (
        name.startswith(b"mimetype") and b"opendocument.spreadsheet" in head[:200]
    )


class SpreadsheetExtractor:
    name: ClassVar[str] = "xlsfile"
    label: ClassVar[str] = "Spreadsheet"
    description: ClassVar[str] = "Excel (.xlsx, .xls) and OpenDocument (.ods) spreadsheets."
    extensions: ClassVar[tuple[str, ...]] = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = (
        ExtractorParameter("sheet", "string", "Sheet", "Name of the sheet to read (default: the first).", ""),
        ExtractorParameter(
            "first_row_no", "int", "First row", "Number of the first row to read (the header, if any).", 1
        ),
        ExtractorParameter(
            "headers_first_row", "boolean", "Headers in first row", "The first row holds column names.", True
        ),
        ExtractorParameter(
            "extract_filename", "boolean", "Extract filename", "Add a field with the file's name.", False
        ),
    )

    def detect(self, sample: Sample) -> float:
        by_name = os.path.splitext(sample.filename.lower())[1] in self.extensions
        head = sample.head
        if _is_spreadsheet_zip(head) or head.startswith(_OLE2):
            return 0.95
        if by_name and (_is_html(head) or not head.strip()):
            return 0.7  # so that reading explains what the file really is
        return 0.2 if by_name else 0.0

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        _check_head(sample.head, sample.filename)
        if sample.is_complete:
            return self.guess_params_from_stream(io.BytesIO(sample.head), sample.filename)
        # A cut head cannot be opened (the zip directory is at the end): the service may call
        # ``guess_params_from_stream`` on the whole file; these defaults read most sheets right.
        return {"sheet": "", "first_row_no": 1, "headers_first_row": True, "extract_filename": False}

    def guess_params_from_stream(self, stream: BinaryIO, filename: str) -> dict[str, Any]:
        """Sheet, first row and header from the workbook itself (title rows above the table...)."""
        from datawharf.extract.csv import guess_first_row, guess_headers

        workbook, source = _open(stream, filename)
        with workbook:
            sheet_name = _sheet_name(workbook, "")
            sheet = workbook.get_sheet_by_name(sheet_name)
            top = sheet.start[0] if sheet.start else 0
            rows: list[list[str]] = []
            for row in sheet.iter_rows():
                rows.append(["" if v is None else str(v) for v in (_cell(c) for c in row)])
                if len(rows) >= GUESS_ROWS:
                    break
        if source is not stream:
            source.close()
        start = guess_first_row(rows, max((len(r) for r in rows), default=0)) if rows else 0
        return {
            "sheet": sheet_name,
            "first_row_no": top + start + 1,
            "headers_first_row": guess_headers(rows[start:]) if rows else True,
            "extract_filename": False,
        }

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        try:
            first_row = max(1, int(params.get("first_row_no") or 1))
        except (TypeError, ValueError) as exc:
            raise ExtractError("first_row_no must be a number.", error_code="invalid_parameter") from exc
        headers = as_bool(params.get("headers_first_row"), True)
        workbook, source = _open(stream, options.filename or "", options.max_bytes)
        sheet_name = _sheet_name(workbook, str(params.get("sheet") or ""))
        sheet = workbook.get_sheet_by_name(sheet_name)
        if sheet.start is None:
            workbook.close()
            raise ExtractError(
                f"The sheet {sheet_name!r} is empty: choose another sheet.", error_code="sheet_empty"
            )
        return self._batches(workbook, source, stream, sheet, first_row, headers, params, options)

    def _batches(
        self,
        workbook: calamine.CalamineWorkbook,
        source: BinaryIO,
        stream: BinaryIO,
        sheet: calamine.CalamineSheet,
        first_row: int,
        headers: bool,
        params: dict[str, Any],
        options: ReadOptions,
    ) -> Iterator[pa.RecordBatch]:
        try:
            top = sheet.start[0] if sheet.start else 0
            skip = first_row - 1 - top
            rows = sheet.iter_rows()
            for _ in range(max(skip, 0)):
                if next(rows, None) is None:
                    raise ExtractError(
                        f"The sheet has no row {first_row}: lower first_row_no.", error_code="no_such_row"
                    )
            names: list[str] = []
            if headers:
                header = next(rows, None)
                if header is None:
                    raise ExtractError(
                        f"The sheet has no row {first_row}: lower first_row_no.", error_code="no_such_row"
                    )
                names = ["" if v is None else str(v) for v in (_cell(c) for c in header)]
            data = (
                cells
                for cells in ([_cell(c) for c in row] for row in rows)
                if any(v is not None for v in cells)
            )
            yield from list_batches(names, data, options, constants=filename_constants(params, options))
        finally:
            workbook.close()
            if source is not stream:
                source.close()


def _cell(value: Any) -> Any:
    """A cell as a record value: empty is null, a whole float an integer, a duration text."""
    if value == "" or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def _check_head(head: bytes, filename: str) -> None:
    if not head.strip():
        raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
    if _is_html(head):
        raise ExtractError(
            f"{filename or 'The file'} is named like a spreadsheet but is an HTML page (a web export "
            "saved under a spreadsheet name): export it as a real .xlsx, or as CSV.",
            error_code="spreadsheet_is_html",
        )
    if not (head.startswith(_ZIP) or head.startswith(_OLE2)):
        raise ExtractError(
            f"{filename or 'The file'} is not an Excel or OpenDocument spreadsheet"
            + (" (it is text: choose the CSV extractor)" if _is_text(head) else "")
            + ".",
            error_code="spreadsheet_is_text" if _is_text(head) else "spreadsheet_invalid",
        )


def _is_text(head: bytes) -> bool:
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head[:4096]


def _open(
    stream: BinaryIO, filename: str, max_bytes: int | None = None
) -> tuple[calamine.CalamineWorkbook, BinaryIO]:
    source = random_access(stream)
    size = stream_size(source)
    position = source.tell()
    head = source.read(4096)
    source.seek(position)
    _check_head(head, filename)
    if max_bytes is not None and size - position > max_bytes:
        raise ExtractError(
            f"The spreadsheet is {(size - position) / (1024 * 1024):.1f} MiB and is read whole, more than "
            f"the {max_bytes / (1024 * 1024):g} MiB a preview may read: raise DATAWHARF_PREVIEW_MAX_BYTES, "
            "or export the sheet as CSV.",
            error_code="spreadsheet_too_large_for_preview",
            detail={"bytes": size - position, "max_bytes": max_bytes},
        )
    if size - position > MAX_SPREADSHEET_BYTES:
        raise ExtractError(
            f"The spreadsheet is {size // (1024 * 1024)} MiB, more than the "
            f"{MAX_SPREADSHEET_BYTES // (1024 * 1024)} MiB datawharf opens: export the sheet as CSV.",
            error_code="spreadsheet_too_large",
        )
    try:
        return calamine.CalamineWorkbook.from_filelike(source), source
    except calamine.PasswordError as exc:
        raise ExtractError(
            "The spreadsheet is password-protected: save it without a password.",
            error_code="spreadsheet_encrypted",
        ) from exc
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise ExtractError(
            f"The spreadsheet cannot be read ({str(exc)[:200]}): it is corrupt, truncated or not a "
            "spreadsheet; upload an intact copy.",
            error_code="spreadsheet_invalid",
        ) from exc


def _sheet_name(workbook: calamine.CalamineWorkbook, wanted: str) -> str:
    names = list(workbook.sheet_names)
    if not wanted:
        visible = [
            m.name
            for m in workbook.sheets_metadata
            if m.visible == calamine.SheetVisibleEnum.Visible and m.typ == calamine.SheetTypeEnum.WorkSheet
        ]
        if visible or names:
            return (visible or names)[0]
    if wanted in names:
        return wanted
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return names[int(wanted) - 1]
    raise ExtractError(
        f"The spreadsheet has no sheet {wanted!r}; its sheets are: {', '.join(names)}.",
        error_code="sheet_not_found",
        detail={"sheets": names},
    )
