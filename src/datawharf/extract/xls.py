"""``xlsfile``: spreadsheets (.xlsx, .xlsm, .xlsb, .xls, .ods) through python-calamine.

Formulas come out as the values the spreadsheet saved with them (calamine reads cached results, never
evaluates). Numbers Excel stores as floats come out as integers when whole; dates as dates or
datetimes; empty cells as null. ``first_row_no`` counts rows as the spreadsheet shows them (row 1 is
the sheet's first row even when it is empty), so a title block above the table is skipped as in CSV.

Calamine reads the whole workbook into memory (a zip or OLE2 container cannot be parsed as a stream) and
aborts its process when an allocation fails, which a crafted 1.6 kB workbook triggers at will (cells A1
and XFD1048576: a dense grid of 17 billion cells). So no workbook is parsed in the server: the file is
spooled to a temporary file and read by a child process (``_sheet_child``) that first checks it
(``_sheet_checks``: declared dimension, cells, rows, shared strings, every zip member's real size) and
then reads it with calamine under an address-space limit and a timeout (``ReadOptions.spreadsheet``,
the ``DATAWHARF_SPREADSHEET_*`` settings); its batches come back as Arrow IPC through a pipe, so a
publish still streams (``_sheet_sandbox``). A preview costs the file's size, and files over
``MAX_SPREADSHEET_BYTES`` are refused up front.

Error codes: ``spreadsheet_is_html`` (a web page saved under a spreadsheet name, as many portals'
"Excel" exports are), ``spreadsheet_is_text``, ``spreadsheet_invalid``, ``spreadsheet_encrypted``,
``spreadsheet_too_large`` (over a size or a ``SpreadsheetLimits`` bound: the message names the setting),
``spreadsheet_too_large_for_preview`` (calamine reads a workbook whole, so a
preview bounded by ``ReadOptions.max_bytes`` refuses a larger file by its size, before reading it),
``sheet_not_found``, ``sheet_empty``, ``no_such_row``, ``empty_file``.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from datawharf.errors import ExtractError
from datawharf.extract import _sheet_sandbox
from datawharf.extract._io import MiB, random_access, stream_size
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample
from datawharf.extract.limits import DEFAULT_SPREADSHEET_LIMITS, SpreadsheetLimits

MAX_SPREADSHEET_BYTES = 200 * 1024 * 1024

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
        if sample.is_complete:  # a small workbook: its sheet, first row and header, guessed by the child
            return _guess(sample.head, sample.filename, DEFAULT_SPREADSHEET_LIMITS)
        # A cut head cannot be opened (the zip directory is at the end): these defaults read most sheets.
        return {"sheet": "", "first_row_no": 1, "headers_first_row": True, "extract_filename": False}

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        try:
            first_row = max(1, int(params.get("first_row_no") or 1))
        except (TypeError, ValueError) as exc:
            raise ExtractError("first_row_no must be a number.", error_code="invalid_parameter") from exc
        source, size = _sized(stream, options.filename or "", options.max_bytes)
        request = {
            "mode": "read",
            "params": {**params, "first_row_no": first_row},
            "filename": options.filename,
            "max_records": options.max_records,
            "batch_size": options.batch_size,
        }
        return _read(source, stream, size, request, options.spreadsheet)


def _read(
    source: BinaryIO, stream: BinaryIO, size: int, request: dict[str, Any], limits: SpreadsheetLimits
) -> Iterator[pa.RecordBatch]:
    """The child's batches for the workbook in ``source`` (its next ``size`` bytes), spooled first."""
    try:
        with _spooled(source, size) as path:
            yield from _sheet_sandbox.batches({**request, "path": path}, limits)
    finally:
        if source is not stream:
            source.close()


def _guess(data: bytes, filename: str, limits: SpreadsheetLimits) -> dict[str, Any]:
    with _spooled(io.BytesIO(data), len(data)) as path:
        return _sheet_sandbox.guess({"path": path, "filename": filename}, limits)


@contextlib.contextmanager
def _spooled(source: BinaryIO, size: int) -> Iterator[str]:
    """The next ``size`` bytes of ``source`` in a temporary file only its owner reads, removed after."""
    handle, path = tempfile.mkstemp(prefix="datawharf-sheet-")
    try:
        with os.fdopen(handle, "wb") as spool:
            remaining = size
            while remaining > 0:
                chunk = source.read(min(remaining, 1 * MiB))
                if not chunk:
                    break
                spool.write(chunk)
                remaining -= len(chunk)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


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


def _sized(stream: BinaryIO, filename: str, max_bytes: int | None = None) -> tuple[BinaryIO, int]:
    """A random-access ``stream`` and the workbook's size, refused by its head or size before any read."""
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
    return source, size - position
