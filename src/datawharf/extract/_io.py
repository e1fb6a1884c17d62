"""File-object plumbing shared by the containers and the formats that need more than ``read``.

- ``CountingReader`` counts what the layers above pulled from the source: the compressed side of the
  decompression-ratio guard.
- ``ReplayStream`` turns a forward-only source (a decompressor, a tar member) into a buffered stream
  that can still seek back within its first bytes, so guessing can read a head and reading start over,
  and that has ``peek`` and a fast ``readline``.
- ``random_access`` hands Parquet and spreadsheet readers (which seek to a footer or a zip directory) a
  seekable file: the stream itself when it can seek to its end, else a spooled copy (memory up to a
  bound, then disk).

Hand-written rather than ``io.BufferedReader``: that one refuses every seek on a raw stream that is not
seekable, and a decompressor is not, yet going back to the start of a head we still hold is cheap.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO, cast

KiB = 1024
MiB = 1024 * KiB

# Bytes of a forward-only stream kept so that guessing can go back to the start (above the preview cap).
REPLAY_BYTES = 16 * MiB
# A spooled copy stays in memory up to this, then moves to a temporary file.
SPOOL_MEMORY_BYTES = 32 * MiB


class CountingReader:
    """A pass-through file object that counts the bytes read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self.raw.read(-1 if size is None else size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def seekable(self) -> bool:
        return bool(getattr(self.raw, "seekable", lambda: False)())

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The owner of ``raw`` closes it."""

    @property
    def closed(self) -> bool:
        return False


def as_binary(stream: io.IOBase) -> BinaryIO:
    """``stream`` typed as the ``BinaryIO`` the readers take: ``typing.BinaryIO`` is not a base of the
    ``io`` classes, though the readers use only the read/seek API both have."""
    return cast(BinaryIO, stream)


class ReplayStream(io.BufferedIOBase):
    """Buffered reading over ``read(n) -> bytes``, with seeks back into the first ``keep`` bytes.

    Until the position passes ``keep`` nothing read is dropped, so ``seek(0)`` works; past it, consumed
    bytes are released and only forward seeks remain. ``SEEK_END`` is refused: the size is unknown.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        *,
        keep: int = REPLAY_BYTES,
        chunk: int = 64 * KiB,
        on_close: Callable[[], None] | None = None,
        name: str = "",
    ) -> None:
        super().__init__()
        self._source = read
        self._buf = bytearray()
        self._buf_start = 0  # stream offset of _buf[0]
        self._pos = 0
        self._eof = False
        self._keep = keep
        self._chunk = chunk
        self._on_close = on_close
        self.name = name

    # -- io.BufferedIOBase ------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._take(len(self._buf) - (self._pos - self._buf_start))]
            while True:
                data = self._source(self._chunk)
                if not data:
                    self._eof = True
                    break
                parts.append(data)
                self._pos += len(data)
                self._buf_start = self._pos
                self._buf.clear()
            return b"".join(parts)
        self._fill(self._pos + size)
        return self._take(size)

    def read1(self, size: int = -1) -> bytes:
        available = self._buf_start + len(self._buf) - self._pos
        if available <= 0:
            self._fill(self._pos + (self._chunk if size is None or size < 0 else max(size, 1)))
            available = self._buf_start + len(self._buf) - self._pos
        if size is None or size < 0:
            size = available
        return self._take(min(size, available))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readinto1(self, buffer: Any) -> int:
        data = self.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def peek(self, size: int = 1) -> bytes:
        self._fill(self._pos + max(size, 1))
        offset = self._pos - self._buf_start
        return bytes(self._buf[offset : offset + max(size, 1)])

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        start = self._pos - self._buf_start
        searched = start
        while True:
            newline = self._buf.find(b"\n", searched)
            end = len(self._buf) if newline < 0 else newline + 1
            if limit >= 0 and end - start >= limit:
                return self._take(limit)
            if newline >= 0 or self._eof:
                return self._take(end - start)
            searched = len(self._buf)
            before = self._buf_start + len(self._buf)
            self._fill(before + max(self._chunk, len(self._buf) - start))
            start = self._pos - self._buf_start
            if self._buf_start + len(self._buf) == before:
                self._eof = True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            raise io.UnsupportedOperation("the size of a decompressed stream is unknown until read")
        if offset < self._buf_start:
            raise io.UnsupportedOperation(
                f"cannot seek back to {offset}: only the first {self._keep} bytes are kept"
            )
        self._fill(offset)
        self._pos = min(offset, self._buf_start + len(self._buf))
        return self._pos

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        self._buf = bytearray()
        super().close()

    # -- internals ---------------------------------------------------------------------------------
    def _fill(self, upto: int) -> None:
        while not self._eof and self._buf_start + len(self._buf) < upto:
            want = max(self._chunk, upto - self._buf_start - len(self._buf))
            data = self._source(want)
            if not data:
                self._eof = True
                return
            self._buf += data

    def _take(self, size: int) -> bytes:
        offset = self._pos - self._buf_start
        data = bytes(self._buf[offset : offset + max(size, 0)])
        self._pos += len(data)
        if self._pos > self._keep:
            consumed = self._pos - self._buf_start
            if consumed >= self._chunk or consumed == len(self._buf):
                del self._buf[:consumed]
                self._buf_start = self._pos
        return data


def random_access(stream: BinaryIO) -> BinaryIO:
    """``stream`` when it can seek to its end (a local file, an S3 ranged reader), else a spooled copy.

    The copy starts at the current position; memory stays bounded (``SPOOL_MEMORY_BYTES``, then disk).
    """
    try:
        position = stream.tell()
        stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return stream
    except (OSError, AttributeError, ValueError):
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (caller owns it)
        shutil.copyfileobj(stream, spool, 1 * MiB)
        spool.seek(0)
        return spool  # type: ignore[return-value]


def stream_size(stream: BinaryIO) -> int:
    """Size of a random-access stream, leaving its position where it was."""
    position = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return size
