"""The read caches and the file object over an in-memory fetcher: what each read pattern costs."""

from __future__ import annotations

import io
import threading
import time

import pytest

from datawharf.errors import ConnectionProblem, InvalidInput
from datawharf.s3.caches import KiB, MiB, ReadAheadCache, StreamingCache
from datawharf.s3.reader import S3File

DATA = bytes(range(256)) * (40 * 1024)  # 10 MiB, every byte position recognisable modulo 256


class Recorder:
    """A fetcher over DATA recording every [start, end) asked."""

    def __init__(self, data: bytes = DATA, delay: float = 0.0) -> None:
        self.data = data
        self.delay = delay
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def __call__(self, start: int, end: int) -> bytes:
        assert 0 <= start < end <= len(self.data)
        with self.lock:
            self.calls.append((start, end))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self.data[start:end]
        finally:
            with self.lock:
                self.in_flight -= 1


def preview_file(fetcher: Recorder, **options: int) -> S3File:
    return S3File(ReadAheadCache(fetcher, len(fetcher.data), **options), name="s3://b/k.csv")


def stream_file(fetcher: Recorder, **options: int) -> S3File:
    return S3File(StreamingCache(fetcher, len(fetcher.data), **options), name="s3://b/k.csv")


# --- preview ----------------------------------------------------------------------------------------


def test_small_sequential_reads_grow_the_readahead_geometrically() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher)
    out = b"".join(f.read(1000) for _ in range(1000))  # ~1 MB in small reads
    assert out == DATA[:1_000_000]
    sizes = [end - start for start, end in fetcher.calls]
    assert sizes == [64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, 1 * MiB]
    assert f.requests == 5
    assert f.bytes_fetched == sum(sizes)
    assert f.cache.hits > 990 and f.cache.misses == 5


def test_readahead_stops_growing_at_its_maximum() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher, maximum=256 * KiB)
    f.read(2 * MiB)  # one big read: fetched as asked, in one request
    assert fetcher.calls == [(0, 2 * MiB)]
    for _ in range(4):
        f.read(100)
    while f.tell() < 3 * MiB:
        f.read(4096)
    sizes = [end - start for start, end in fetcher.calls[1:]]
    assert max(sizes) == 256 * KiB
    assert sizes[:3] == [128 * KiB, 256 * KiB, 256 * KiB]


def test_a_footer_read_costs_the_footer_and_resets_readahead() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher)
    f.read(100)
    f.read(70 * KiB)  # sequential miss: read-ahead doubled to 128 KiB
    f.seek(-8, io.SEEK_END)
    assert f.read(8) == DATA[-8:]
    assert fetcher.calls[-1] == (len(DATA) - 8, len(DATA))  # clipped at the end: 8 bytes, not 64 KiB
    f.seek(-(8 + 1000), io.SEEK_END)
    assert f.read(1000) == DATA[-1008:-8]
    # a jump resets the read-ahead to 64 KiB (clipped to what is left before the cached tail)
    assert fetcher.calls[-1] == (len(DATA) - 1008, len(DATA))
    assert f.bytes_fetched < 300 * KiB


def test_going_back_to_the_head_after_the_tail_costs_nothing() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher)
    head = f.read(5000)
    f.seek(-100, io.SEEK_END)
    tail = f.read()
    before = f.requests
    f.seek(0)
    assert f.read(5000) == head
    f.seek(-100, io.SEEK_END)
    assert f.read() == tail
    assert f.requests == before == 2


def test_a_read_across_a_cached_block_fetches_only_the_rest() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher)
    f.read(10)  # block [0, 64 KiB)
    f.seek(60 * KiB)
    assert f.read(10 * KiB) == DATA[60 * KiB : 70 * KiB]
    assert fetcher.calls[1][0] == 64 * KiB  # the head of the range came from the cache


def test_only_a_few_blocks_are_kept() -> None:
    fetcher = Recorder()
    f = preview_file(fetcher, max_blocks=2)
    for offset in (0, 3 * MiB, 6 * MiB):
        f.seek(offset)
        f.read(10)
    f.seek(0)
    f.read(10)  # the oldest block was evicted: fetched again
    assert len(fetcher.calls) == 4 and fetcher.calls[-1][0] == 0


def test_read_budget_is_enforced() -> None:
    f = preview_file(Recorder(), max_fetch_bytes=200 * KiB)
    f.read(100)
    f.read(64 * KiB)  # 64 + 128 KiB fetched
    with pytest.raises(InvalidInput) as caught:
        f.read(200 * KiB)
    assert caught.value.error_code == "read_budget_exceeded"
    assert f.bytes_fetched == 192 * KiB


def test_readline_peek_and_iteration() -> None:
    text = b"".join(b"line %d,value\n" % i for i in range(20_000)) + b"last without newline"
    fetcher = Recorder(text)
    f = preview_file(fetcher)
    assert f.peek(4)[:4] == b"line"
    assert f.tell() == 0
    assert f.readline() == b"line 0,value\n"
    assert f.readline(4) == b"line"
    assert f.readline() == b" 1,value\n"
    lines = list(f)
    assert len(lines) == 19_999
    assert lines[-1] == b"last without newline"
    assert f.readline() == b""
    assert f.requests <= 6  # 64K..1M read-ahead, not one request per line


def test_file_protocol() -> None:
    f = preview_file(Recorder())
    assert f.readable() and f.seekable() and not f.writable()
    assert f.size == len(DATA) and f.name == "s3://b/k.csv"
    buffer = bytearray(10)
    assert f.readinto(buffer) == 10 and bytes(buffer) == DATA[:10]
    assert f.seek(5, io.SEEK_CUR) == 15
    assert f.read(3) == DATA[15:18]
    f.seek(len(DATA) + 10)
    assert f.read(10) == b"" and f.readinto(buffer) == 0
    with pytest.raises(OSError):
        f.seek(-1)
    # works under the standard wrappers (as extractors use it)
    f.seek(0)
    wrapped = io.BufferedReader(f, buffer_size=4096)
    assert wrapped.read(300) == DATA[:300]
    f.close()
    assert f.closed
    with pytest.raises(ValueError):
        f.read(1)


def test_empty_object_needs_no_request() -> None:
    fetcher = Recorder(b"")
    f = preview_file(fetcher)
    assert f.read() == b"" and f.readline() == b"" and f.peek() == b""
    assert fetcher.calls == []


# --- publish stream ---------------------------------------------------------------------------------


def test_stream_reads_everything_in_chunks_with_bounded_memory() -> None:
    fetcher = Recorder(delay=0.01)
    f = stream_file(fetcher, chunk_size=1 * MiB, concurrency=3)
    out = bytearray()
    while block := f.read(256 * KiB + 17):  # unaligned reads
        out += block
    assert bytes(out) == DATA
    assert sorted(fetcher.calls) == [(i * MiB, (i + 1) * MiB) for i in range(10)]  # each chunk once
    assert f.requests == 10 and f.bytes_fetched == len(DATA)
    assert f.cache.peak_chunks <= 3  # memory: concurrency x chunk
    assert fetcher.max_in_flight >= 2  # ranges overlapped
    f.close()


def test_stream_fetches_ahead_while_the_reader_works() -> None:
    fetcher = Recorder(delay=0.05)
    f = stream_file(fetcher, chunk_size=1 * MiB, concurrency=4)
    started = time.monotonic()
    f.read(1)  # chunk 0 and the next three start together
    time.sleep(0.1)  # "parsing": meanwhile chunks 1..3 arrive
    assert f.cache.hits == 0
    f.read(3 * MiB)
    elapsed = time.monotonic() - started
    assert f.cache.hits >= 3  # chunks 1-3 were ready when reached
    assert elapsed < 0.35  # far less than 4 sequential 50 ms fetches after the 100 ms pause
    f.close()


def test_stream_seek_back_refetches_only_what_was_dropped() -> None:
    fetcher = Recorder()
    f = stream_file(fetcher, chunk_size=1 * MiB, concurrency=2)
    f.seek(5 * MiB)
    assert f.read(10) == DATA[5 * MiB : 5 * MiB + 10]
    f.seek(100)
    assert f.read(10) == DATA[100:110]
    assert f.readline(5) == DATA[110:115]
    chunk_starts = [start for start, _ in fetcher.calls]
    assert chunk_starts.count(0) == 1 and 5 * MiB in chunk_starts
    f.close()


def test_stream_error_surfaces_to_the_reader() -> None:
    def failing(start: int, end: int) -> bytes:
        if start >= 2 * MiB:
            raise ConnectionProblem("object changed", step="object", error_code="object_changed")
        return DATA[start:end]

    f = S3File(StreamingCache(failing, len(DATA), chunk_size=1 * MiB, concurrency=4), name="x")
    assert len(f.read(2 * MiB)) == 2 * MiB
    with pytest.raises(ConnectionProblem) as caught:
        f.read(1)
    assert caught.value.error_code == "object_changed"
    f.close()
