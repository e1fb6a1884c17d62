"""Bounds that keep one bad file from taking the server down.

Every extractor checks input against these before it allocates: a file that crosses one fails with an
``ExtractError`` naming the limit, never with an out-of-memory kill. They are constants rather than
settings because they protect the process, not a user preference; ``preview_max_bytes`` (how far a
preview may read) is a setting since it trades latency for tolerance. ``SpreadsheetLimits`` are
settings too: they bound a child process, not the server, and a genuine big workbook needs them raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KiB = 1024
MiB = 1024 * KiB

# A CSV record (a physical line, or several when quoted newlines join them) longer than this is refused.
# pyarrow reads several blocks ahead and a block must hold a whole record: this bounds memory.
MAX_RECORD_BYTES = 16 * MiB
# More columns than this is not a table but a mis-guessed separator or a binary file.
MAX_FIELDS = 4096
# A header cell longer than this is cut when it becomes a label.
MAX_LABEL_CHARS = 256
# Technical field names are cut to this many characters before de-duplication.
MAX_NAME_CHARS = 64

# Guessing looks at this much of the (decompressed) content at first, and never more than the max.
SAMPLE_BYTES = 64 * KiB
SAMPLE_MAX_BYTES = 1 * MiB
# Records the separator/header guess parses from the sample.
SAMPLE_RECORDS = 200

# How many records a preview shows (the reference says 20).
PREVIEW_RECORDS = 20
# First block a preview asks the CSV parser for; grows x4 while a record does not fit.
PREVIEW_FIRST_BLOCK = 64 * KiB
# Block size of a full read (publish): pyarrow reads ~12-30 blocks ahead, so 1 MiB keeps memory low
# while parsing stays at full speed (measured: same throughput as 4 and 16 MiB on 160 MiB).
PUBLISH_BLOCK = 1 * MiB


@dataclass(frozen=True)
class SpreadsheetLimits:
    """What one workbook may cost; a workbook over any of them is refused with ``spreadsheet_too_large``.

    Calamine (the Rust reader) builds a sheet as a dense grid, ~70 bytes per cell of the bounding box
    (measured: 2 million cells, 140 MiB), and aborts the whole process when an allocation fails; so a
    workbook is checked against these before a sheet is read, and then read in a child process whose
    address space and time are bounded (``extract/_sheet_child.py``). Settings
    ``DATAWHARF_SPREADSHEET_*`` (``Settings.spreadsheet_limits``).
    """

    # Cells of a sheet's bounding box (declared dimension or actual cells): what calamine allocates.
    max_cells: int = 10_000_000
    # Rows of a sheet (Excel's own maximum by default).
    max_rows: int = 1_048_576
    # Uncompressed bytes of any one member of an xlsx/ods zip (declared, then counted while inflating).
    max_member_bytes: int = 512 * MiB
    # Uncompressed bytes of the shared strings (xlsx ``xl/sharedStrings.xml``): ~3.5 x that in memory.
    max_shared_strings_bytes: int = 128 * MiB
    # Address space the child may take beyond what it holds once started (``RLIMIT_AS``).
    max_memory_bytes: int = 1024 * MiB
    # Wall-clock seconds the child may take, from start to its last batch.
    timeout_seconds: float = 120.0
    # A member inflating more than this many times its compressed size is a zip bomb.
    max_ratio: float = 200.0


DEFAULT_SPREADSHEET_LIMITS = SpreadsheetLimits()


def too_large_body(limits: SpreadsheetLimits, cause: str) -> dict[str, Any]:
    """The error of a workbook whose reading outgrew the child's memory."""
    mib = limits.max_memory_bytes // (1024 * 1024)
    return {
        "error_code": "spreadsheet_too_large",
        "message": f"Reading the spreadsheet {cause}: it needs more than the {mib} MiB a workbook may take "
        "(DATAWHARF_SPREADSHEET_MAX_MEMORY); raise it if the workbook is genuine, or export the sheet as "
        "CSV.",
        "detail": {
            "max_memory_bytes": limits.max_memory_bytes,
            "setting": "DATAWHARF_SPREADSHEET_MAX_MEMORY",
        },
    }
