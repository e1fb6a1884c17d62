"""Compression and archives: every container around real content, the tail-first zip read, the bad input."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import time
import zipfile
from collections.abc import Callable

import pytest
import zstandard

from datawharf.errors import ExtractError
from datawharf.extract.archive import ArchiveLimits, detect_container, list_members, open_content
from tests.support.files import CORPUS, CountingFile, tar_bytes, zip_bytes

CSV = (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes()


WRAPPERS: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    # name: (file name, wrap the content, inner name expected)
    "gzip": ("obs.csv.gz", gzip.compress, "obs.csv"),
    "bz2": ("obs.csv.bz2", bz2.compress, "obs.csv"),
    "zstd": ("obs.csv.zst", lambda d: zstandard.ZstdCompressor().compress(d), "obs.csv"),
    "xz": ("obs.csv.xz", lzma.compress, "obs.csv"),
    "zip": ("obs.zip", lambda d: zip_bytes({"README": b"read me", "data/obs.csv": d}), "data/obs.csv"),
    "zip-stored": ("obs.zip", lambda d: zip_bytes({"obs.csv": d}, zipfile.ZIP_STORED), "obs.csv"),
    "tar": ("obs.tar", lambda d: tar_bytes({"notes.md": b"# n", "obs.csv": d}), "obs.csv"),
    "tar.gz": ("obs.tar.gz", lambda d: tar_bytes({"obs.csv": d}, "w:gz"), "obs.csv"),
    "tgz": ("obs.tgz", lambda d: tar_bytes({"obs.csv": d}, "w:gz"), "obs.csv"),
    "zip>gz": ("obs.zip", lambda d: zip_bytes({"obs.csv.gz": gzip.compress(d)}), "obs.csv"),
    "magic-only gzip": ("download", gzip.compress, "download"),
}


@pytest.mark.parametrize("kind", list(WRAPPERS))
def test_every_container_gives_back_the_content_and_the_inner_name(kind: str) -> None:
    filename, wrap, inner_expected = WRAPPERS[kind]
    stream, inner = open_content(io.BytesIO(wrap(CSV)), filename, {})
    head = stream.read(200)
    stream.seek(0)  # guessing reads a head, then reading starts over
    assert head == CSV[:200]
    assert stream.read() == CSV
    assert inner == inner_expected


def test_plain_content_is_returned_as_is() -> None:
    source = io.BytesIO(CSV)
    stream, inner = open_content(source, "obs.csv", {})
    assert stream is source and inner == "obs.csv"


def test_gzip_header_name_names_an_anonymous_object() -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="export.csv", mode="wb", fileobj=buffer) as compressed:
        compressed.write(CSV)
    _stream, inner = open_content(io.BytesIO(buffer.getvalue()), "download", {})
    assert inner == "export.csv"


def test_office_documents_are_not_unpacked() -> None:
    workbook = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})
    source = io.BytesIO(workbook)
    assert detect_container(workbook[:512], "report.xlsx") is None
    assert detect_container(workbook[:512], "report") is None  # by its first member
    assert open_content(source, "report.xlsx", {})[0] is source


def test_file_in_archive_picks_the_member_and_lists_choices() -> None:
    blob = zip_bytes({"a.csv": b"x\n1\n", "b/c.csv": b"y\n2\n"})
    stream, inner = open_content(io.BytesIO(blob), "d.zip", {"file_in_archive": "b/c.csv"})
    assert (inner, stream.read()) == ("b/c.csv", b"y\n2\n")
    stream, inner = open_content(io.BytesIO(blob), "d.zip", {"file_in_archive": "c.csv"})  # by base name
    assert inner == "b/c.csv"
    assert list_members(io.BytesIO(blob), "d.zip") == ["a.csv", "b/c.csv"]
    tarball = tar_bytes({"a.csv": b"x\n", "b/c.csv": b"y\n2\n"}, "w:gz")
    stream, inner = open_content(io.BytesIO(tarball), "d.tar.gz", {"file_in_archive": "b/c.csv"})
    assert (inner, stream.read()) == ("b/c.csv", b"y\n2\n")
    assert list_members(io.BytesIO(tarball), "d.tar.gz") == ["a.csv", "b/c.csv"]
    with pytest.raises(ExtractError) as caught:
        open_content(io.BytesIO(blob), "d.zip", {"file_in_archive": "nope.csv"})
    assert caught.value.error_code == "archive_member_not_found"
    assert "a.csv" in caught.value.message


def test_macos_metadata_and_non_data_members_are_skipped() -> None:
    blob = zip_bytes({"__MACOSX/._obs.csv": b"\x00\x05", "notes.pdf": b"%PDF", "obs.csv": CSV})
    assert open_content(io.BytesIO(blob), "d.zip", {})[1] == "obs.csv"
    with pytest.raises(ExtractError) as caught:
        open_content(io.BytesIO(zip_bytes({"a.pdf": b"%PDF", "b.png": b"\x89PNG"})), "d.zip", {})
    assert caught.value.error_code == "archive_no_data_member"


def test_zip_preview_reads_the_directory_and_one_member_only() -> None:
    # Five 4 MiB members of incompressible bytes: a preview of the first touches a sliver of 20 MiB.
    members = {f"part{i}.csv": b"a,b\n" + os.urandom(4 * 1024 * 1024) for i in range(5)}
    blob = zip_bytes(members, zipfile.ZIP_STORED)
    source = CountingFile(blob)
    stream, inner = open_content(source, "parts.zip", {"file_in_archive": "part3.csv"})
    assert stream.read(64 * 1024)[:4] == b"a,b\n"
    assert inner == "part3.csv"
    assert source.bytes_read < 300 * 1024, source.bytes_read
    assert source.bytes_read < len(blob) / 50


def test_plain_tar_preview_seeks_over_the_members_before() -> None:
    members = {f"part{i}.bin": os.urandom(2 * 1024 * 1024) for i in range(4)}
    blob = tar_bytes({**members, "obs.csv": CSV})
    source = CountingFile(blob)
    stream, inner = open_content(source, "parts.tar", {"file_in_archive": "obs.csv"})
    assert (inner, stream.read()) == ("obs.csv", CSV)
    assert source.bytes_read < 64 * 1024 < len(blob)


@pytest.mark.parametrize(
    ("filename", "compress"),
    [
        ("big.csv.gz", lambda d: gzip.compress(d, compresslevel=1)),
        ("big.csv.bz2", lambda d: bz2.compress(d, compresslevel=1)),
        ("big.csv.zst", lambda d: zstandard.ZstdCompressor(level=1).compress(d)),
        ("big.csv.xz", lambda d: lzma.compress(d, preset=0)),
    ],
)
def test_compressed_preview_decompresses_only_the_first_chunk(
    filename: str, compress: Callable[[bytes], bytes]
) -> None:
    # Random station codes keep the compressed stream several MB long.
    big = b"".join(b"%d;%s\n" % (i, os.urandom(6).hex().encode()) for i in range(400_000))
    blob = compress(big)
    source = CountingFile(blob)
    stream, _inner = open_content(source, filename, {})
    assert stream.read(8192) == big[:8192]
    assert source.bytes_read < 512 * 1024 < len(blob) / 4, (source.bytes_read, len(blob))


# -- bad input: each a specific error, quickly, with bounded memory --------------------------------
def _expect(code: str, blob: bytes, filename: str, *, limits: ArchiveLimits | None = None) -> ExtractError:
    started = time.monotonic()
    with pytest.raises(ExtractError) as caught:
        kwargs = {"limits": limits} if limits else {}
        stream, _inner = open_content(io.BytesIO(blob), filename, {}, **kwargs)
        while stream.read(1024 * 1024):
            pass
    assert caught.value.error_code == code, caught.value.message
    assert time.monotonic() - started < 10
    return caught.value


def test_zip_bomb_is_refused_from_its_declared_sizes() -> None:
    bomb = zip_bytes({"bomb.csv": b"\x00" * (64 * 1024 * 1024)})
    error = _expect("archive_ratio_exceeded", bomb, "bomb.zip")
    assert "bomb" in error.message


def test_gzip_bomb_stops_once_the_ratio_is_crossed() -> None:
    error = _expect("archive_ratio_exceeded", gzip.compress(b"\x00" * (64 * 1024 * 1024)), "bomb.csv.gz")
    assert error.detail["decompressed_bytes"] < 20 * 1024 * 1024  # stopped soon after the grace


def test_nested_bomb_counts_against_the_outer_bytes() -> None:
    inner = gzip.compress(b"\x00" * (64 * 1024 * 1024))  # 1000x, behind a zip that does not compress it
    _expect("archive_ratio_exceeded", zip_bytes({"bomb.csv.gz": inner}, zipfile.ZIP_STORED), "bomb.zip")


def test_zstd_bomb_is_refused() -> None:
    blob = zstandard.ZstdCompressor().compress(b"\x00" * (64 * 1024 * 1024))
    _expect("archive_ratio_exceeded", blob, "bomb.csv.zst")


def test_zip_with_100000_members_is_refused_from_its_end_record() -> None:
    blob = zip_bytes({f"{i}.csv": b"" for i in range(100_000)}, zipfile.ZIP_STORED)
    source = CountingFile(blob)
    with pytest.raises(ExtractError) as caught:
        open_content(source, "many.zip", {})
    assert caught.value.error_code == "archive_too_many_members"
    assert caught.value.detail["members"] == 100_000
    assert source.bytes_read < 100 * 1024  # the end record, not the 5 MB directory


def test_tar_with_too_many_members_is_refused() -> None:
    blob = tar_bytes({f"{i}.md": b"" for i in range(50)})
    _expect("archive_too_many_members", blob, "many.tar", limits=ArchiveLimits(max_members=20))


def _half(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


@pytest.mark.parametrize(
    ("code", "filename", "blob"),
    [
        ("compressed_truncated", "cut.csv.gz", _half(gzip.compress(CSV))),
        ("compressed_truncated", "cut.csv.bz2", _half(bz2.compress(CSV))),
        ("compressed_truncated", "cut.csv.zst", _half(zstandard.ZstdCompressor().compress(CSV))),
        ("compressed_truncated", "cut.csv.xz", _half(lzma.compress(CSV))),
        ("compressed_truncated", "cut.tar.gz", _half(tar_bytes({"obs.csv": CSV}, "w:gz"))),
        ("compressed_corrupt", "fake.csv.gz", b"a;b\n1;2\n"),
        ("compressed_corrupt", "bad.csv.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 200),
        ("archive_corrupt", "cut.zip", _half(zip_bytes({"obs.csv": CSV}))),
        ("archive_corrupt", "cut.tar", tar_bytes({"obs.csv": CSV})[:3000]),
        ("archive_no_data_member", "empty.zip", zip_bytes({})),
    ],
)
def test_broken_containers_get_specific_errors(code: str, filename: str, blob: bytes) -> None:
    _expect(code, blob, filename)


def test_encrypted_member_is_refused() -> None:
    blob = bytearray(zip_bytes({"obs.csv": CSV}))
    # Set the "encrypted" flag bit in the local and central headers, as a password-protected zip does.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = blob.find(signature)
        blob[at + offset] |= 0x01
    _expect("archive_encrypted", bytes(blob), "secret.zip")


def test_too_many_layers_are_refused() -> None:
    blob = CSV
    for _ in range(6):
        blob = gzip.compress(blob)
    _expect("archive_too_deep", blob, "deep.csv" + ".gz" * 6)
