"""The child process that reads an untrusted workbook, forked by ``_sheet_sandbox``'s forkserver.

Calamine aborts its process when an allocation fails (``memory allocation of 549755813888 bytes
failed``, SIGABRT) and a crafted workbook can make it allocate anything, so it never runs in the server.
``serve`` bounds the child's own address space (``RLIMIT_AS``: what the forked process maps plus
``max_memory_bytes``) and CPU time, checks the workbook (``_sheet_checks.check_workbook``), reads it
with calamine and sends frames, the first byte naming the kind:

- ``B`` an Arrow IPC stream holding one record batch (its own schema: a later batch may have more
  columns, or another type for a column, as ``_records.list_batches`` makes them);
- ``G`` the guessed parameters, as JSON;
- ``E`` an error, as JSON ``{"error_code", "message", "detail"}``;
- ``D`` done.

Importing this module imports the whole reader: the forkserver preloads it, so a child starts warm.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import resource
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pyarrow as pa
import python_calamine as calamine

from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract._records import as_bool, filename_constants, list_batches
from datawharf.extract._sheet_checks import check_workbook
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv import guess_first_row, guess_headers
from datawharf.extract.limits import SpreadsheetLimits, too_large_body

GUESS_ROWS = 50


SECRET_ENV_PREFIXES = ("DATAWHARF_", "AWS_")


def _batch_bytes(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _bound_self(limits: SpreadsheetLimits) -> None:
    """Address space: what is mapped now (interpreter, pyarrow, calamine) plus the allowance."""
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    memory = mapped + limits.max_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.timeout_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def serve(request: dict[str, Any], out: Connection) -> None:
    """Check and read the workbook ``request["path"]``, sending frames to ``out``; then the child exits."""
    # The child is short-lived: a collection would walk every object inherited from the forkserver, and
    # so copy their pages (copy-on-write), for nothing.
    gc.disable()
    # The forkserver inherited the server's environment: nothing a crafted workbook might make the
    # reader leak (the encryption key, AWS credentials) is left for it to find.
    for name in [n for n in os.environ if n.startswith(SECRET_ENV_PREFIXES)]:
        del os.environ[name]
    os.environ["RUST_BACKTRACE"] = "0"  # an allocation refused is expected here: one line in the log
    limits = SpreadsheetLimits(**request["limits"])
    _bound_self(limits)
    try:
        with open(request["path"], "rb") as source:
            check_workbook(source, limits)
        if request["mode"] == "guess":
            out.send_bytes(b"G" + json.dumps(guess(request["path"])).encode())
        else:
            options = ReadOptions(
                max_records=request.get("max_records"),
                batch_size=request.get("batch_size") or 65_536,
                filename=request.get("filename"),
            )
            for batch in read(request["path"], request["params"], options):
                out.send_bytes(b"B" + _batch_bytes(batch))
    except DatawharfError as exc:
        out.send_bytes(b"E" + json.dumps(exc.to_body(), default=str).encode())
    except MemoryError:
        out.send_bytes(b"E" + json.dumps(too_large_body(limits, "ran out of memory")).encode())
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # calamine's panics come as pyo3's PanicException, a BaseException
        body = {
            "error_code": "spreadsheet_invalid",
            "message": f"The spreadsheet cannot be read ({type(exc).__name__}: {str(exc)[:200]}): it is "
            "corrupt, truncated or not a spreadsheet; upload an intact copy.",
            "detail": {},
        }
        out.send_bytes(b"E" + json.dumps(body).encode())
    out.send_bytes(b"D")
    out.close()


# -- reading (in the child) ------------------------------------------------------------------------
def _open(path: str) -> calamine.CalamineWorkbook:
    try:
        with open(path, "rb") as source:  # by content, as the name may lie
            return calamine.CalamineWorkbook.from_filelike(source)
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


def guess(path: str) -> dict[str, Any]:
    """Sheet, first row and header from the workbook itself (title rows above the table...)."""
    with _open(path) as workbook:
        sheet_name = sheet_name_of(workbook, "")
        sheet = workbook.get_sheet_by_name(sheet_name)
        top = sheet.start[0] if sheet.start else 0
        rows: list[list[str]] = []
        for row in sheet.iter_rows():
            rows.append(["" if v is None else str(v) for v in (cell(c) for c in row)])
            if len(rows) >= GUESS_ROWS:
                break
    start = guess_first_row(rows, max((len(r) for r in rows), default=0)) if rows else 0
    return {
        "sheet": sheet_name,
        "first_row_no": top + start + 1,
        "headers_first_row": guess_headers(rows[start:]) if rows else True,
        "extract_filename": False,
    }


def read(path: str, params: dict[str, Any], options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """The sheet's records, from ``first_row_no`` (its header first when ``headers_first_row``)."""
    first_row = int(params.get("first_row_no") or 1)
    headers = as_bool(params.get("headers_first_row"), True)
    with _open(path) as workbook:
        name = sheet_name_of(workbook, str(params.get("sheet") or ""))
        sheet = workbook.get_sheet_by_name(name)
        if sheet.start is None:
            raise ExtractError(
                f"The sheet {name!r} is empty: choose another sheet.", error_code="sheet_empty"
            )
        rows = sheet.iter_rows()
        for _ in range(max(first_row - 1 - sheet.start[0], 0)):
            if next(rows, None) is None:
                raise _no_such_row(first_row)
        names: list[str] = []
        if headers:
            header = next(rows, None)
            if header is None:
                raise _no_such_row(first_row)
            names = ["" if v is None else str(v) for v in (cell(c) for c in header)]
        data = (
            cells for cells in ([cell(c) for c in row] for row in rows) if any(v is not None for v in cells)
        )
        yield from list_batches(names, data, options, constants=filename_constants(params, options))


def _no_such_row(first_row: int) -> ExtractError:
    return ExtractError(f"The sheet has no row {first_row}: lower first_row_no.", error_code="no_such_row")


def cell(value: Any) -> Any:
    """A cell as a record value: empty is null, a whole float an integer, a duration text."""
    if value == "" or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def sheet_name_of(workbook: calamine.CalamineWorkbook, wanted: str) -> str:
    """The sheet ``wanted`` names (a name or a 1-based position); empty: the first visible worksheet."""
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
