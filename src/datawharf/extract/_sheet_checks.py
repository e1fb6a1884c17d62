"""Checks a workbook passes before calamine reads it: what it declares, and what it really inflates to.

Calamine builds a sheet as a dense grid (the bounding box of its cells, ~70 bytes a cell) and aborts the
process when an allocation fails, so a 1.6 kB xlsx with cells A1 and XFD1048576 asks for 512 GiB. These
checks read the zip's directory and stream every XML member, never building it:

- every member's declared uncompressed size, then the bytes it really inflates to, against
  ``max_member_bytes`` and ``max_ratio`` (a member may lie about its size; zipfile stops at the
  declared size and fails on the CRC, which is ``spreadsheet_invalid``);
- the shared strings' inflated size against ``max_shared_strings_bytes``;
- each xlsx worksheet's ``<dimension ref>``, then its cells' references (bounding box), cells and rows,
  scanned with regular expressions over the inflated bytes (a tag cut between two chunks is carried
  over), against ``max_cells`` and ``max_rows``;
- an ods ``content.xml`` the same way, repeated rows and cells (``number-rows-repeated``...) expanded
  arithmetically as calamine expands them: only non-empty cells widen the grid, as calamine drops
  trailing empty repeats.

An ``.xls`` (OLE2) or ``.xlsb`` sheet is binary: only sizes are checked, and the child process's
address-space limit and timeout (``_sheet_child``) cover the rest. These checks run inside that child
too, so a flaw in them cannot take the server down either.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from datawharf.errors import ExtractError
from datawharf.extract.archive import DEFAULT_LIMITS as ARCHIVE_LIMITS
from datawharf.extract.archive import _zip_directory_size
from datawharf.extract.limits import MiB, SpreadsheetLimits

_ZIP = b"PK\x03\x04"
_CHUNK = 1 * MiB
_MAX_CARRY = 1 * MiB
# Below this, a high ratio is a short, repetitive but harmless file (as in the archive guard).
_RATIO_GRACE = 16 * MiB

_XLSX_SHEET = re.compile(r"xl/(worksheets|chartsheets|dialogsheets|macrosheets)/[^/]+\.xml", re.IGNORECASE)
_SHARED_STRINGS = re.compile(r"xl/sharedstrings[^/]*\.xml", re.IGNORECASE)
_STREAMED = (".xml", ".rels", ".bin", ".vml")

_PREFIX = rb"<(?:[\w.-]+:)?"
_DIMENSION = re.compile(_PREFIX + rb'dimension\s[^>]*?\bref="([^"]{1,64})"')
_ROOT = re.compile(rb"<([\w.-]+:)?worksheet[\s>]")
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,9})")
_ODS_TOKEN = re.compile(
    _PREFIX.replace(b"<", b"<(/?)")
    + rb"(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*?)(/?)>"
)
_ROWS_REPEATED = re.compile(rb'number-rows-repeated="([0-9]{1,10})"')
_COLUMNS_REPEATED = re.compile(rb'number-columns-repeated="([0-9]{1,10})"')
_VALUE_TYPE = re.compile(rb"value-type=")


def _too_large(message: str, setting: str, **detail: object) -> ExtractError:
    return ExtractError(
        f"{message}: raise {setting} if the workbook is genuine, or export the sheet as CSV.",
        error_code="spreadsheet_too_large",
        detail={**detail, "setting": setting},
    )


def _invalid(message: str, **detail: object) -> ExtractError:
    return ExtractError(
        f"The spreadsheet cannot be read ({message}): it is corrupt, truncated or not a spreadsheet; "
        "upload an intact copy.",
        error_code="spreadsheet_invalid",
        detail=detail,
    )


def column_number(letters: str) -> int:
    """``A`` is 1, ``Z`` 26, ``AA`` 27, ``XFD`` 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def check_workbook(source: BinaryIO, limits: SpreadsheetLimits) -> None:
    """Raise ``spreadsheet_too_large`` or ``spreadsheet_invalid`` before calamine would over-allocate."""
    position = source.tell()
    head = source.read(4)
    source.seek(position)
    if head == _ZIP:
        _check_zip(source, limits)


def _check_zip(source: BinaryIO, limits: SpreadsheetLimits) -> None:
    try:
        entries, directory_bytes = _zip_directory_size(source)
    except ExtractError as exc:
        raise _invalid("no zip directory at its end") from exc
    if entries > ARCHIVE_LIMITS.max_members or directory_bytes > ARCHIVE_LIMITS.max_directory_bytes:
        raise _invalid(f"{entries} parts in the zip, more than a workbook has", members=entries)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _invalid(str(exc)[:200]) from exc
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        for info in infos:
            _check_declared(info, limits)
        is_ods = any(info.filename == "mimetype" for info in infos)
        for info in infos:
            name = info.filename
            if is_ods and name == "content.xml":
                scan = OdsScan(limits)
                for chunk in _inflate(archive, info, limits, limits.max_member_bytes):
                    scan.feed(chunk)
            elif _XLSX_SHEET.fullmatch(name):
                sheet = XlsxSheetScan(limits, name)
                for chunk in _inflate(archive, info, limits, limits.max_member_bytes):
                    sheet.feed(chunk)
                sheet.finish()
            elif _SHARED_STRINGS.fullmatch(name):
                for _chunk in _inflate(
                    archive,
                    info,
                    limits,
                    limits.max_shared_strings_bytes,
                    "DATAWHARF_SPREADSHEET_MAX_SHARED_STRINGS_BYTES",
                ):
                    pass
            elif name.lower().endswith(_STREAMED):
                for _chunk in _inflate(archive, info, limits, limits.max_member_bytes):
                    pass


def _check_declared(info: zipfile.ZipInfo, limits: SpreadsheetLimits) -> None:
    shared = _SHARED_STRINGS.fullmatch(info.filename) is not None
    bound = limits.max_shared_strings_bytes if shared else limits.max_member_bytes
    setting = (
        "DATAWHARF_SPREADSHEET_MAX_SHARED_STRINGS_BYTES"
        if shared
        else "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES"
    )
    if info.file_size > bound:
        raise _too_large(
            f"The workbook's part {info.filename!r} declares {info.file_size:,} bytes uncompressed, more "
            f"than the {bound:,} allowed",
            setting,
            member=info.filename,
            declared_bytes=info.file_size,
            max_bytes=bound,
        )
    if info.file_size > _RATIO_GRACE and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise _too_large(
            f"The workbook's part {info.filename!r} declares {info.file_size:,} bytes from "
            f"{info.compress_size:,} compressed (more than {limits.max_ratio:g} times): a likely zip bomb",
            "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES",
            member=info.filename,
            declared_bytes=info.file_size,
            compressed_bytes=info.compress_size,
        )


def _inflate(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: SpreadsheetLimits,
    bound: int,
    setting: str = "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES",
) -> Iterator[bytes]:
    """The member's bytes, counted as they inflate: over ``bound`` or the ratio, refused at once."""
    if info.flag_bits & 0x1:
        raise _invalid(f"the part {info.filename!r} is encrypted", member=info.filename)
    produced = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                produced += len(chunk)
                if produced > bound:
                    raise _too_large(
                        f"The workbook's part {info.filename!r} inflates to more than {bound:,} bytes",
                        setting,
                        member=info.filename,
                        max_bytes=bound,
                    )
                if produced > _RATIO_GRACE and produced > limits.max_ratio * max(info.compress_size, 1):
                    raise _too_large(
                        f"The workbook's part {info.filename!r} inflates more than {limits.max_ratio:g} "
                        f"times its {info.compress_size:,} compressed bytes: a likely zip bomb",
                        "DATAWHARF_SPREADSHEET_MAX_MEMBER_BYTES",
                        member=info.filename,
                        compressed_bytes=info.compress_size,
                    )
                yield chunk
    except NotImplementedError as exc:
        raise _invalid(f"the part {info.filename!r} uses an unsupported compression method") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise _invalid(f"the part {info.filename!r}: {str(exc)[:200]}", member=info.filename) from exc


class _TagStream:
    """Chunks cut where no tag is open, so that a regular expression never sees half a tag."""

    def __init__(self) -> None:
        self._carry = b""

    def whole(self, chunk: bytes) -> bytes:
        data = self._carry + chunk
        cut = data.rfind(b"<")
        if cut < 0 or data.find(b">", cut) >= 0 or len(data) - cut > _MAX_CARRY:
            self._carry = b""
            return data
        self._carry = data[cut:]
        return data[:cut]

    def rest(self) -> bytes:
        data, self._carry = self._carry, b""
        return data


class XlsxSheetScan:
    """Declared dimension, bounding box of the cells' references, cells and rows of one worksheet.

    The references are decoded with numpy over each chunk (every `` r="`` and the bytes after it), not
    with a regular expression per cell: ~20x faster, so the scan costs a fraction of calamine's parse.
    """

    def __init__(self, limits: SpreadsheetLimits, name: str = "sheet") -> None:
        self.limits, self.name = limits, name
        self.cells = self.rows = 0
        self.min_col = self.min_row = 1 << 40
        self.max_col = self.max_row = 0
        self._in_data = False
        self._prefix: bytes | None = None  # the namespace prefix of the elements (``x:``), if any
        self._tags = _TagStream()

    def feed(self, chunk: bytes) -> None:
        self._scan(self._tags.whole(chunk))

    def finish(self) -> None:
        self._scan(self._tags.rest())

    def _scan(self, data: bytes) -> None:
        if not self._in_data:
            if self._prefix is None and (root := _ROOT.search(data)):
                self._prefix = root.group(1) or b""
            start = data.find(b"sheetData")
            head = data if start < 0 else data[:start]
            if match := _DIMENSION.search(head):
                self._check_dimension(match.group(1).decode("ascii", "replace"))
            self._in_data = start >= 0
        raw = np.frombuffer(data + b"\x00" * 20, np.uint8)
        cells, rows = _tag_counts(raw, self._prefix or b"")
        self.cells += cells
        self.rows += rows
        box = _reference_box(raw)
        if box is not None:
            min_col, max_col, min_row, max_row = box
            self.min_col, self.max_col = min(self.min_col, min_col), max(self.max_col, max_col)
            self.min_row, self.max_row = min(self.min_row, min_row), max(self.max_row, max_row)
        self._check()

    def _check_dimension(self, ref: str) -> None:
        corners = [_REF.fullmatch(part) for part in ref.split(":")]
        if not all(corners) or len(corners) > 2:
            return  # calamine ignores what it cannot parse
        numbers = [(column_number(m.group(1)), int(m.group(2))) for m in corners if m]
        (c1, r1), (c2, r2) = numbers[0], numbers[-1]
        area = (abs(c2 - c1) + 1) * (abs(r2 - r1) + 1)
        if area > self.limits.max_cells:
            raise _too_large(
                f"The worksheet {self.name!r} declares the dimension {ref} ({area:,} cells), more than the "
                f"{self.limits.max_cells:,} cells a sheet may span",
                "DATAWHARF_SPREADSHEET_MAX_CELLS",
                member=self.name,
                dimension=ref,
                cells=area,
                max_cells=self.limits.max_cells,
            )

    def _check(self) -> None:
        limits = self.limits
        area = 0
        if self.max_col:
            area = (self.max_col - min(self.min_col, self.max_col) + 1) * (
                self.max_row - min(self.min_row, self.max_row) + 1
            )
        if max(area, self.cells) > limits.max_cells:
            raise _too_large(
                f"The worksheet {self.name!r} spans {max(area, self.cells):,} cells (from its cells' "
                f"positions, {self.cells:,} written), more than the {limits.max_cells:,} a sheet may span",
                "DATAWHARF_SPREADSHEET_MAX_CELLS",
                member=self.name,
                cells=max(area, self.cells),
                max_cells=limits.max_cells,
            )
        rows = max(self.rows, self.max_row)
        if rows > limits.max_rows:
            raise _too_large(
                f"The worksheet {self.name!r} has {rows:,} rows, more than the {limits.max_rows:,} allowed",
                "DATAWHARF_SPREADSHEET_MAX_ROWS",
                member=self.name,
                rows=rows,
                max_rows=limits.max_rows,
            )


def _tag_counts(raw: np.ndarray, prefix: bytes) -> tuple[int, int]:
    """``(cells, rows)``: how many ``<c`` and ``<row`` start tags (under ``prefix``, e.g. ``x:``) ``raw``
    holds. Every ``<`` is found in one pass, then narrowed byte by byte (gathers on ever fewer)."""
    at = np.flatnonzero(raw[:-20] == 60) + 1
    for byte in prefix:
        at = at[raw[at] == byte]
        at += 1
    first = raw[at]
    cells = at[first == 99] + 1
    rows = at[first == 114] + 1
    for byte in b"ow":
        rows = rows[raw[rows] == byte] + 1
    return _terminated(raw, cells), _terminated(raw, rows)


def _terminated(raw: np.ndarray, ends: np.ndarray) -> int:
    """How many of the tag names ending before ``ends`` end there (a blank, ``>`` or ``/``)."""
    end = raw[ends]
    return int(((end == 32) | (end == 62) | (end == 47) | (end == 9) | (end == 10) | (end == 13)).sum())


def _reference_box(raw: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(min column, max column, min row, max row)`` of the cell references (`` r="B12"``) in ``raw``."""
    r = np.flatnonzero(raw[1:-20] == 114)  # every 'r' (one full pass), then those in ' r="'
    hits = r[(raw[r] == 32) & (raw[r + 2] == 61) & (raw[r + 3] == 34)]
    if not len(hits):
        return None
    start = hits + 4  # the first byte after ' r="'
    upper = [raw[start + k].astype(np.int32) & 0xDF for k in range(4)]
    letter = [(u >= 65) & (u <= 90) for u in upper]
    one, two = letter[0], letter[0] & letter[1]
    three = two & letter[2]
    value = [u - 64 for u in upper[:3]]
    column = np.where(
        three,
        value[0] * 676 + value[1] * 26 + value[2],
        np.where(two, value[0] * 26 + value[1], value[0]),
    )
    first_digit = start + one + two + three
    cells = one & ~letter[3]  # a cell reference: 1 to 3 letters, then digits
    row = np.zeros(len(hits), np.int64)
    going = cells.copy()
    for k in range(10):
        digit = raw[first_digit + k].astype(np.int64) - 48
        going &= (digit >= 0) & (digit <= 9)
        if k == 0:
            cells &= going
        if not going.any():
            break
        row = np.where(going, row * 10 + digit, row)
    if not cells.any():
        return None
    return int(column[cells].min()), int(column[cells].max()), int(row[cells].min()), int(row[cells].max())


class OdsScan:
    """Rows and cells of every table of an ods ``content.xml``, repeats expanded as calamine does."""

    def __init__(self, limits: SpreadsheetLimits) -> None:
        self.limits = limits
        self.cells = 0
        self._tags = _TagStream()
        self._new_table()

    def _new_table(self) -> None:
        self.row = 0  # rows so far in this table
        self.max_row = self.max_col = -1  # last non-empty row and column (0-based)
        self.col = 0
        self.repeat = 1
        self.row_filled = False

    def feed(self, chunk: bytes) -> None:
        for closing, tag, attrs, empty in _ODS_TOKEN.findall(self._tags.whole(chunk)):
            if tag == b"table":
                if not closing:
                    self._new_table()
            elif tag == b"table-row":
                if closing:
                    self._end_row()
                else:
                    match = _ROWS_REPEATED.search(attrs)
                    self.repeat, self.col, self.row_filled = int(match.group(1)) if match else 1, 0, False
                    if empty:
                        self._end_row()
            elif not closing:
                match = _COLUMNS_REPEATED.search(attrs)
                span = int(match.group(1)) if match else 1
                if not empty or _VALUE_TYPE.search(attrs):
                    self.cells += span * self.repeat
                    self.max_col = max(self.max_col, self.col + span - 1)
                    self.row_filled = True
                self.col += span
        self._check()

    def _end_row(self) -> None:
        if self.row_filled:
            self.max_row = self.row + self.repeat - 1
        self.row += self.repeat
        self.repeat, self.row_filled = 1, False
        self._check()

    def _check(self) -> None:
        limits = self.limits
        area = (self.max_row + 1) * (self.max_col + 1)
        if max(area, self.cells) > limits.max_cells:
            raise _too_large(
                f"A table of the spreadsheet spans {max(area, self.cells):,} cells (repeated rows and "
                f"cells expanded), more than the {limits.max_cells:,} a sheet may span",
                "DATAWHARF_SPREADSHEET_MAX_CELLS",
                cells=max(area, self.cells),
                max_cells=limits.max_cells,
            )
        if self.max_row + 1 > limits.max_rows:
            raise _too_large(
                f"A table of the spreadsheet has {self.max_row + 1:,} rows, more than the "
                f"{limits.max_rows:,} allowed",
                "DATAWHARF_SPREADSHEET_MAX_ROWS",
                rows=self.max_row + 1,
                max_rows=limits.max_rows,
            )
