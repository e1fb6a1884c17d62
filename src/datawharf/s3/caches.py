"""Byte caches over a range fetcher: the access patterns of a file read from S3, separated from the I/O.

A cache answers ``fetch(start, end)`` (half-open) from memory when it can, and otherwise calls its
``Fetcher`` for a bigger range chosen by its pattern. Each counts ``requests``, ``bytes_fetched``,
``hits`` and ``misses``, so a test (and the benchmark) can assert what a read cost. fsspec's caches
(``fsspec/caching.py``) are the model; ours add what previews and publishes need: geometric read-ahead
and overlapping parallel ranged GETs with bounded memory.

- ``ReadAheadCache`` (preview): small reads, read-ahead starting at 64 KiB and doubling while reads stay
  sequential, reset on a jump (a footer, a central directory); a few recent blocks kept, so going back
  and forth between a head and a tail costs nothing.
- ``StreamingCache`` (publish): the object cut into fixed chunks; the chunk being read and the next
  ``concurrency - 1`` are fetched in parallel by a thread pool, so the network overlaps parsing, and
  memory stays at ``concurrency × chunk_size``. The last two chunks are the exception (two: the last
  one may be a few bytes, and a footer then spans both): a jump to them (a Parquet footer, a zip central
  directory) fetches them alone and keeps them, without dropping the chunks read ahead, so a reader
  that reads the footer and then the body fetches the object once (two chunks more of memory).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import cast

from datawharf.errors import InvalidInput

Fetcher = Callable[[int, int], bytes]
"""Returns the bytes of ``[start, end)``; exactly ``end - start`` of them (the caller clamps to size)."""

KiB = 1024
MiB = 1024 * KiB


class BaseCache:
    """Counting, clamping and the read budget; subclasses choose what to fetch."""

    def __init__(self, fetcher: Fetcher, size: int, *, max_fetch_bytes: int | None = None) -> None:
        self._fetcher = fetcher
        self.size = size
        self.max_fetch_bytes = max_fetch_bytes
        self.requests = 0
        self.bytes_fetched = 0
        self.hits = 0
        self.misses = 0
        self._count_lock = threading.Lock()

    def _call(self, start: int, end: int) -> bytes:
        with self._count_lock:
            if self.max_fetch_bytes is not None and self.bytes_fetched + (end - start) > self.max_fetch_bytes:
                raise InvalidInput(
                    f"Reading this object needs more than {self.max_fetch_bytes} bytes, the limit of this "
                    "operation (DATAWHARF_PREVIEW_MAX_BYTES for previews): the file's layout does not allow "
                    "a cheap read; publish it instead, or raise the limit.",
                    error_code="read_budget_exceeded",
                    detail={"max_fetch_bytes": self.max_fetch_bytes},
                )
            self.requests += 1
            self.bytes_fetched += end - start
        return self._fetcher(start, end)

    def fetch(self, start: int, end: int) -> bytes:
        start, end = max(0, start), min(end, self.size)
        if start >= end:
            return b""
        return self._fetch(start, end)

    def fetch_into(self, start: int, view: memoryview) -> int:
        """Copies ``[start, start + len(view))`` (clamped to the size) into ``view``; returns the count.

        Where the cache holds the bytes, a single copy into the caller's buffer (a publish's CSV blocks)
        instead of a slice and then the caller's join.
        """
        data = self.fetch(start, start + len(view))
        view[: len(data)] = data
        return len(data)

    def buffered(self, start: int) -> tuple[bytes, int]:
        """The block in memory holding ``start``, and where ``start`` is in it; ``(b"", 0)`` if none.

        No request, no copy: readline and peek search the block in place.
        """
        return b"", 0

    def _fetch(self, start: int, end: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release memory and threads."""


class ReadAheadCache(BaseCache):
    """Preview reads: growing read-ahead on sequential reads, a small LRU of blocks for jumps."""

    def __init__(
        self,
        fetcher: Fetcher,
        size: int,
        *,
        initial: int = 64 * KiB,
        maximum: int = 1 * MiB,
        max_blocks: int = 4,
        max_fetch_bytes: int | None = None,
        head: bytes = b"",
    ) -> None:
        """``head``: the object's first bytes, fetched before (with its size and ETag): counted as one
        request, and read from memory."""
        super().__init__(fetcher, size, max_fetch_bytes=max_fetch_bytes)
        self.initial = initial
        self.maximum = maximum
        self.max_blocks = max_blocks
        self._readahead = initial
        self._last_fetch_end: int | None = None
        self._blocks: OrderedDict[int, bytes] = OrderedDict()  # start -> data, oldest first
        if head:
            self.requests, self.bytes_fetched = 1, len(head)
            self._blocks[0] = head
            self._last_fetch_end = len(head)

    def _covering(self, position: int) -> tuple[int, bytes] | None:
        for block_start, data in reversed(self._blocks.items()):
            if block_start <= position < block_start + len(data):
                return block_start, data
        return None

    def buffered(self, start: int) -> tuple[bytes, int]:
        found = self._covering(start)
        if found is None:
            return b"", 0
        block_start, data = found
        return data, start - block_start

    def _fetch(self, start: int, end: int) -> bytes:
        found = self._covering(start)
        if found is not None and end <= found[0] + len(found[1]):
            block_start, data = found
            self._blocks.move_to_end(block_start)
            self.hits += 1
            return data[start - block_start : end - block_start]
        self.misses += 1
        # Reuse what is cached of the head of the range; fetch the rest plus the read-ahead.
        head = b"" if found is None else found[1][start - found[0] :]
        fetch_start = start + len(head)
        if fetch_start == self._last_fetch_end:
            self._readahead = min(self._readahead * 2, self.maximum)
        else:
            self._readahead = self.initial
        fetch_end = min(self.size, max(end, fetch_start + self._readahead))
        data = self._call(fetch_start, fetch_end)
        self._last_fetch_end = fetch_end
        self._blocks[fetch_start] = data
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        return head + data[: end - fetch_start]

    def close(self) -> None:
        self._blocks.clear()


class StreamingCache(BaseCache):
    """Publish reads: fixed chunks, ``concurrency`` of them fetched at once, ahead of the reader."""

    def __init__(
        self,
        fetcher: Fetcher,
        size: int,
        *,
        chunk_size: int = 8 * MiB,
        concurrency: int = 4,
        max_fetch_bytes: int | None = None,
    ) -> None:
        super().__init__(fetcher, size, max_fetch_bytes=max_fetch_bytes)
        if chunk_size <= 0 or concurrency <= 0:
            raise ValueError("chunk_size and concurrency must be positive")
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self._chunk_count = -(-size // chunk_size)
        self._tail = max(1, self._chunk_count - 2)  # the first chunk kept for footers (docstring)
        self._chunks: dict[int, Future[bytes]] = {}
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="datawharf-s3-range")
        self.peak_chunks = 0  # most chunks held at once: the memory bound, observable by tests

    def _fetch_chunk(self, index: int) -> bytes:
        start = index * self.chunk_size
        return self._call(start, min(self.size, start + self.chunk_size))

    def _window(self, first: int) -> None:
        """Hold chunks [first, first + concurrency): drop the others, start the missing ones."""
        last = min(self._chunk_count, first + self.concurrency)
        for index in [i for i in self._chunks if not first <= i < last and i < self._tail]:
            self._chunks.pop(index).cancel()
        for index in range(first, last):
            if index not in self._chunks:
                self._chunks[index] = self._pool.submit(self._fetch_chunk, index)
        self.peak_chunks = max(self.peak_chunks, len(self._chunks))

    def buffered(self, start: int) -> tuple[bytes, int]:
        future = self._chunks.get(start // self.chunk_size)
        if future is None or not future.done() or future.exception() is not None:
            return b"", 0
        return future.result(), start % self.chunk_size

    def _pieces(self, start: int, end: int) -> Iterator[memoryview]:
        """Views (no copy) of the chunks' bytes that make ``[start, end)``, in order."""
        first, last = start // self.chunk_size, (end - 1) // self.chunk_size
        for index in range(first, last + 1):
            if index in self._chunks and self._chunks[index].done():
                self.hits += 1
            else:
                self.misses += 1
            if index >= self._tail and index not in self._chunks:
                # a jump to the tail: fetch it alone, keep the window (see the module docstring)
                self._chunks[index] = self._pool.submit(self._fetch_chunk, index)
                self.peak_chunks = max(self.peak_chunks, len(self._chunks))
            else:
                self._window(index)
            data = self._chunks[index].result()
            offset = index * self.chunk_size
            yield memoryview(data)[max(start - offset, 0) : min(end - offset, len(data))]

    def _fetch(self, start: int, end: int) -> bytes:
        parts = list(self._pieces(start, end))
        if len(parts) == 1 and len(parts[0]) == len(whole := cast(bytes, parts[0].obj)):
            return whole  # a whole chunk: the bytes themselves
        return b"".join(parts)

    def fetch_into(self, start: int, view: memoryview) -> int:
        start, end = max(0, start), min(start + len(view), self.size)
        filled = 0
        for piece in self._pieces(start, end) if start < end else ():
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
        return filled

    def close(self) -> None:
        for future in self._chunks.values():
            future.cancel()
        self._chunks.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
