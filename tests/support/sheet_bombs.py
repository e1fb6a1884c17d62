"""Spreadsheet bombs, written by hand with ``zipfile`` at test time (never committed): each is a few kB to
a few MB that a naive reader turns into gigabytes, or a workbook that lies about itself."""

from __future__ import annotations

import io
import os
import struct
import zipfile

import numpy as np

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
# The sheet has the name of the good workbook's (tests.support.files), so a bomb put in its place is read
# with the parameters stored for it and meets the limits, not a missing sheet.
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
    '<sheets><sheet name="Stations" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_START = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN_NS}">'
EMPTY_STRINGS = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}" count="0" uniqueCount="0"/>'


def sheet(rows: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f"{SHEET_START}{dim}<sheetData>{rows}</sheetData></worksheet>".encode()


def xlsx(
    sheet_xml: bytes, shared_strings: bytes | None = None, extra: dict[str, bytes] | None = None
) -> bytes:
    """A minimal workbook of one sheet, every part deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        book.writestr("xl/sharedStrings.xml", shared_strings or EMPTY_STRINGS)
        for name, data in (extra or {}).items():
            book.writestr(name, data)
    return buffer.getvalue()


def _streamed_xlsx(name: str, start: bytes, filler: bytes, size: int, end: bytes) -> bytes:
    """A workbook whose part ``name`` is ``start``, ``filler`` repeated to ``size`` bytes, ``end``: written
    through ``ZipFile.open`` so that the test never holds the inflated part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        parts = {
            "[Content_Types].xml": CONTENT_TYPES.encode(),
            "_rels/.rels": ROOT_RELS.encode(),
            "xl/workbook.xml": WORKBOOK.encode(),
            "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.encode(),
            "xl/worksheets/sheet1.xml": sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
            "xl/sharedStrings.xml": EMPTY_STRINGS.encode(),
        }
        for part, data in parts.items():
            if part != name:
                book.writestr(part, data)
        with book.open(name, "w", force_zip64=size > 2**31) as member:
            member.write(start)
            block = filler * (1024 * 1024 // len(filler))
            written = 0
            while written < size:
                member.write(block)
                written += len(block)
            member.write(end)
    return buffer.getvalue()


def two_cells() -> bytes:
    """The 1.6 kB workbook: cells A1 and XFD1048576, a dense grid of 17 billion cells for calamine."""
    return xlsx(
        sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    )


def huge_dimension() -> bytes:
    """One cell, and a declared dimension of the whole sheet (calamine reserves for it)."""
    return xlsx(sheet('<row r="1"><c r="A1"><v>1</v></c></row>', dimension="A1:XFD1048576"))


def huge_shared_strings(size: int = 140 * 1024 * 1024) -> bytes:
    """One shared string of ``size`` bytes (~0.1% once deflated)."""
    start = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>'
    return _streamed_xlsx("xl/sharedStrings.xml", start.encode(), b"a", size, b"</t></si></sst>")


def shared_string_clones(size: int = 12 * 1024 * 1024, cells: int = 2000) -> bytes:
    """Within every limit: one shared string of ``size`` bytes, referenced by ``cells`` cells. Calamine
    copies the string into each cell (24 GiB here; 12 MiB is under the ratio check's 16 MiB grace): only
    the child's memory limit stops it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": ROOT_RELS,
            "xl/workbook.xml": WORKBOOK,
            "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        }.items():
            book.writestr(name, data)
        refs = "".join(f'<c r="A{row}" t="s"><v>0</v></c>' for row in range(1, cells + 1))
        book.writestr("xl/worksheets/sheet1.xml", sheet(f'<row r="1">{refs}</row>'))
        with book.open("xl/sharedStrings.xml", "w") as member:
            member.write(
                f'<?xml version="1.0"?><sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>'.encode()
            )
            block = b"a" * (1024 * 1024)
            for _ in range(size // len(block)):
                member.write(block)
            member.write(b"</t></si></sst>")
    return buffer.getvalue()


def zip_bomb_member(size: int = 64 * 1024 * 1024) -> bytes:
    """A part (styles) of ``size`` bytes of blanks, honest about its size, inflating ~1000 times."""
    return _streamed_xlsx("xl/styles.xml", b"<styleSheet>", b" ", size, b"</styleSheet>")


def many_cells(cells: int = 10_500_000, per_row: int = 1000) -> bytes:
    """``cells`` positional cells (no reference) of a random 0 or 1: ~70 times smaller deflated, so no
    ratio check sees them, and ~2.5 MB that calamine would turn into ~700 MB."""
    template = np.frombuffer(b"<c><v>0</v></c>", np.uint8)
    row = np.tile(template, per_row).reshape(per_row, len(template))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": ROOT_RELS,
            "xl/workbook.xml": WORKBOOK,
            "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
            "xl/sharedStrings.xml": EMPTY_STRINGS,
        }.items():
            book.writestr(name, data)
        with book.open("xl/worksheets/sheet1.xml", "w") as member:
            member.write(SHEET_START.encode() + b"<sheetData>")
            for _ in range(cells // per_row):
                digits = np.frombuffer(os.urandom(per_row), np.uint8) % 2 + 48
                row[:, 6] = digits
                member.write(b"<row>" + row.tobytes() + b"</row>")
            member.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def lying_member(padding: int = 64 * 1024 * 1024) -> bytes:
    """The sheet declares 1,000 bytes uncompressed (local header and directory) but inflates to more."""
    data = xlsx(sheet('<row r="1"><c r="A1"><v>1</v></c></row>' + " " * padding))
    return _declare_size(data, "xl/worksheets/sheet1.xml", 1000)


def _declare_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` with ``name``'s uncompressed size rewritten in its local header and its directory entry."""
    patched = bytearray(data)
    encoded = name.encode()
    local = patched.find(b"PK\x03\x04")
    while local >= 0:
        name_length = struct.unpack_from("<H", patched, local + 26)[0]
        if bytes(patched[local + 30 : local + 30 + name_length]) == encoded:
            struct.pack_into("<I", patched, local + 22, size)
            break
        local = patched.find(b"PK\x03\x04", local + 4)
    central = patched.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", patched, central + 28)[0]
        if bytes(patched[central + 46 : central + 46 + name_length]) == encoded:
            struct.pack_into("<I", patched, central + 24, size)
            break
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
ODS_CONTENT = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Stations">{rows}</table:table>'
    "</office:spreadsheet></office:body></office:document-content>"
)
ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIME}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def ods(rows: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), ODS_MIME)  # first and stored, as the format says
        book.writestr("META-INF/manifest.xml", ODS_MANIFEST, zipfile.ZIP_DEFLATED)
        book.writestr("content.xml", ODS_CONTENT.format(rows=rows), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


ODS_VALUE = (
    '<table:table-cell office:value-type="float" office:value="1"{repeat}>'
    "<text:p>1</text:p></table:table-cell>"
)


def ods_repeated() -> bytes:
    """792 bytes: a row of 1,000 repeated values, repeated 100,000 times (calamine asks for 4 GB)."""
    cell = ODS_VALUE.format(repeat=' table:number-columns-repeated="1000"')
    return ods(f'<table:table-row table:number-rows-repeated="100000">{cell}</table:table-row>')


def ods_trailing_empty() -> bytes:
    """What LibreOffice writes for a formatted sheet: one value, then a million empty repeated rows."""
    first = f"<table:table-row>{ODS_VALUE.format(repeat='')}</table:table-row>"
    rest = (
        '<table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    return ods(first + rest)


def corrupt(data: bytes) -> bytes:
    """``data`` with bytes flipped in the middle of its first deflated part (a bad CRC, or bad deflate)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        info = next(
            i for i in book.infolist() if i.compress_type == zipfile.ZIP_DEFLATED and i.compress_size > 64
        )
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    broken = bytearray(data)
    for offset in range(middle, middle + 16):
        broken[offset] ^= 0xFF
    return bytes(broken)
