"""Bounds that keep one bad file from taking the server down.

Every extractor checks input against these before it allocates: a file that crosses one fails with an
``ExtractError`` naming the limit, never with an out-of-memory kill. They are constants rather than
settings because they protect the process, not a user preference; ``preview_max_bytes`` (how far a
preview may read) is a setting since it trades latency for tolerance.
"""

from __future__ import annotations

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
