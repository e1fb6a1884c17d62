"""gzip through ISA-L (the publish's fast decompression): same bytes as Python's gzip, members, padding,
and the archive errors for a stream cut short or corrupt."""

from __future__ import annotations

import gzip
import io
import os

import pytest

from datawharf.errors import ExtractError
from datawharf.extract.archive import open_content
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv_parallel import ParallelCsvRead

CSV = b"id;nom\n" + b"".join(b"%d;\xc3\xa9quipe %d\n" % (i, i) for i in range(50_000))


def _read_all(blob: bytes, name: str = "data.csv.gz") -> bytes:
    stream, inner = open_content(io.BytesIO(blob), name, {})
    assert inner == "data.csv"
    return stream.read()


def test_same_bytes_as_python_gzip_in_big_and_small_reads() -> None:
    blob = gzip.compress(CSV, compresslevel=6)
    assert _read_all(blob) == CSV
    stream, _ = open_content(io.BytesIO(blob), "data.csv.gz", {})
    parts = []
    while chunk := stream.read(7):
        parts.append(chunk)
        if len(parts) > 100:
            parts.append(stream.read())
            break
    assert b"".join(parts) == CSV


def test_several_members_and_zero_padding() -> None:
    half = len(CSV) // 2
    blob = gzip.compress(CSV[:half]) + gzip.compress(CSV[half:]) + b"\x00" * 100_000
    assert _read_all(blob) == CSV


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda b: b[: len(b) // 2], "compressed_truncated"),
        (lambda b: b[:200] + os.urandom(5000) + b[5200:], "compressed_corrupt"),
    ],
)
def test_cut_short_or_corrupt(mangle, code: str) -> None:  # type: ignore[no-untyped-def]
    blob = mangle(gzip.compress(CSV))
    with pytest.raises(ExtractError) as raised:
        _read_all(blob)
    assert raised.value.error_code == code


def test_parallel_csv_over_gzip() -> None:
    stream, _ = open_content(io.BytesIO(gzip.compress(CSV)), "data.csv.gz", {})
    read = ParallelCsvRead(
        stream, {"separator": ";"}, ReadOptions(), block_bytes=64 * 1024, first_block_bytes=64 * 1024
    )
    rows = sum(batch.num_rows for batch in read.batches())
    assert rows == 50_000 and read.blocks > 5 and read.fallback_at is None
