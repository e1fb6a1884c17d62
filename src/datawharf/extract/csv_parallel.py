"""``csvfile`` read for a publish: record-aligned blocks parsed on every core, in order.

pyarrow's streaming reader (``extract/csv.py``) parses on one thread; its ``read_csv`` releases the GIL
but wants the whole file. So a reader thread cuts the byte stream into blocks that end on a record
boundary, a small thread pool parses each block with ``read_csv`` (one block, one thread), and the
batches come out in file order with a bounded number of blocks in flight: memory stays at a few blocks
whatever the size, and reading (ranged GETs, decompression) overlaps parsing.

Where a block may end: after a newline outside quotes. With ``"`` as the only quote character and
doubled quotes as its escape, "outside quotes" is "after an even number of quote characters since a
record start" -- *provided* every quote that opens a value is where pyarrow opens one, at the start of a
field. A quote in the middle of an unquoted value (``12" pipe``) is a literal for pyarrow but flips the
count, so each block is checked: every quote at an even position must follow a separator, a line end,
another quote (the second of a doubled pair) or the block start. When the check fails (or the dialect
has an escape character, an encoding whose bytes are not ASCII-compatible, or no ``\\n`` line ends), the
rest of the stream is read by the sequential reader, from the last boundary known good: same records,
just one core.

Records are those of the sequential reader: same header handling (``first_row_no``,
``headers_first_row``), same ragged-row repair, same errors; the only difference is that empty cells
come out null instead of ``""`` (which every field type, text included, converts to null anyway), so that
publishing a long text column costs no copy.
"""

from __future__ import annotations

import codecs
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from datawharf.extract._io import ReplayStream, as_binary
from datawharf.extract.base import ReadOptions
from datawharf.extract.csv import FILENAME_FIELD, CsvExtractor, _codec, _CsvRead, _merge, _parse
from datawharf.extract.limits import MAX_RECORD_BYTES, PUBLISH_BLOCK, MiB

# Parsing 4 MiB costs ~10 ms: long enough to dwarf the per-block overhead, short enough that the first
# batch comes quickly and a few blocks in flight stay small.
BLOCK_BYTES = 4 * MiB
# Parse threads unless the settings' ``parse_threads`` says otherwise (the publish passes it).
WORKERS = 2
# Blocks parsed or being parsed ahead of the consumer (the memory bound: ~2 x BLOCK_BYTES each, raw
# bytes plus parsed columns): one per worker; a third cost ~30 MB of peak RSS and no speed.
IN_FLIGHT = 2

_QUOTE = ord('"')
_NEWLINE = ord("\n")
_RETURN = ord("\r")
# Encodings in which '"', '\n' and the separator are single bytes that never occur inside another
# character: a byte-level cut is a character-level cut.
_BYTE_SAFE_CODECS = {
    "utf-8",
    "ascii",
    "cp1252",
    "iso8859-1",
    "latin-1",
    "iso8859-15",
    "cp1250",
    "iso8859-2",
    "mac-roman",
    "cp850",
    "cp437",
}
_UNSAFE = -1


def parallel_eligible(params: dict[str, Any], options: ReadOptions) -> bool:
    """Whether the block reader can read this dialect exactly like the sequential one."""
    codec = _codec(str(params.get("encoding") or "utf-8"))
    return (
        options.max_records is None
        and not params.get("escapechar")
        and bool(params.get("doublequote", True))
        and codec in _BYTE_SAFE_CODECS
        and len(str(params.get("separator") or ",").encode(codec)) == 1
    )


def safe_cut(data: bytes | bytearray, separator: int, final: bool = False, start: int = 0) -> int | None:
    """Length of the longest prefix of ``data`` (which starts on a record boundary) made of whole records.

    None when no newline outside quotes exists; ``_UNSAFE`` when a quote sits where the quote count
    stops telling pyarrow's state (see the module docstring). ``final``: ``data`` ends the stream, so
    all of it is taken once the quotes are checked. ``start``: where the first record starts (after a
    byte order mark).
    """
    array = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(array == _QUOTE)
    if final:
        cut, before = len(data), len(quotes)
    else:
        position = data.rfind(b"\n")
        before = 0
        while position >= 0:
            before = int(np.searchsorted(quotes, position))
            if before % 2 == 0:
                break
            # Every newline after the last quote before this one is inside the same quoted value.
            position = data.rfind(b"\n", 0, int(quotes[before - 1]))
        if position < 0:
            # No boundary yet: a long quoted value (read on), unless a stray quote is the reason.
            return _UNSAFE if _stray_quote(array, quotes, separator, start) else None
        cut = position + 1
    return _UNSAFE if _stray_quote(array, quotes[:before], separator, start) else cut


def _stray_quote(array: np.ndarray, quotes: np.ndarray, separator: int, start: int) -> bool:
    """Whether a quote the count takes for an opening one is not at the start of a field."""
    openers = quotes[::2]
    openers = openers[openers > start]
    if not len(openers):
        return False
    previous = array[openers - 1]
    allowed = (previous == separator) | (previous == _NEWLINE) | (previous == _RETURN) | (previous == _QUOTE)
    return not bool(allowed.all())


class _RestRead(_CsvRead):
    """The sequential reader over the rest of a stream whose header was already read."""

    def __init__(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions, names: list[str], width: int
    ) -> None:
        super().__init__(stream, {**params, "first_row_no": 1, "headers_first_row": False}, options)
        self._known = (names, width)

    def _peek(self) -> bytes:
        self.names, self.width = self._known
        return b""


class ParallelCsvRead:
    """One read of one stream; ``batches()`` yields its record batches in file order."""

    def __init__(
        self,
        stream: BinaryIO,
        params: dict[str, Any],
        options: ReadOptions,
        *,
        block_bytes: int = BLOCK_BYTES,
        workers: int = WORKERS,
        in_flight: int = IN_FLIGHT,
        first_block_bytes: int = PUBLISH_BLOCK,
    ) -> None:
        self.stream = stream
        self.params = CsvExtractor()._complete(params)
        self.options = options
        self.block_bytes = block_bytes
        self.first_block_bytes = first_block_bytes
        self.workers = workers
        self.in_flight = max(in_flight, workers)
        self.sequential = _CsvRead(stream, self.params, options)  # header, error messages
        self.codec = self.sequential.codec
        self.separator = self.params["separator"].encode("latin-1", errors="replace")[0]
        self.fallback_at: int | None = None  # byte offset where the sequential reader took over (tests)
        self.blocks = 0

    # -- the parse of one block (pool threads) --------------------------------------------------------
    def _parse_block(self, data: bytes | memoryview, skip_rows: int, ascii: bool = False) -> pa.RecordBatch:
        seq = self.sequential
        columns = [f"c{i}" for i in range(seq.width)]
        repaired: list[tuple[int, list[str | None]]] = []

        def on_invalid(row: Any) -> str:
            # Same repair as the sequential reader: parse the row alone, pad or trim it.
            cells = next(
                iter(_parse(row.text, self.params["separator"], None, True, 1)),
                [],
            )
            fixed: list[str | None] = [*cells[: seq.width], *([None] * (seq.width - len(cells)))]
            repaired.append((row.number if row.number is not None else -1, fixed))
            return "skip"

        read_options = pacsv.ReadOptions(
            use_threads=False,
            block_size=len(data) + 1,
            skip_rows=skip_rows,
            column_names=columns,
            encoding=self.codec if self.codec not in ("utf-8", "utf-8-sig") else "utf8",
        )
        parse_options = pacsv.ParseOptions(
            delimiter=self.params["separator"],
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            invalid_row_handler=on_invalid,
        )
        convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            # ASCII is valid UTF-8: the check, a third of the parse, can go (1 ms to know for 4 MiB).
            check_utf8=not ascii,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )
        try:
            table = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except UnicodeError as exc:
            raise seq._bad_encoding(None) from exc
        except pa.ArrowInvalid as exc:
            raise seq._translate(exc) from exc
        schema = pa.schema([(c, pa.string()) for c in columns])
        table = table.combine_chunks()
        batches = table.to_batches()
        batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=schema)
        if repaired:
            batch, _, _ = _merge(batch, repaired, skip_rows + 1, columns, final=True)
        batch = pa.RecordBatch.from_arrays(
            batch.columns, schema=pa.schema([pa.field(name, pa.string()) for name in seq.names])
        )
        if self.params.get("extract_filename") and self.options.filename is not None:
            batch = batch.append_column(
                FILENAME_FIELD, pa.repeat(pa.scalar(self.options.filename, pa.string()), batch.num_rows)
            )
        return batch

    # -- cutting the stream (the reader thread) -------------------------------------------------------
    def _cut_blocks(
        self, prefix: bytes, submit: Any, stop: threading.Event
    ) -> tuple[bytes | bytearray, bool] | None:
        """Feeds ``submit(data, skip_rows, ascii)`` with record-aligned blocks; returns None at the end of the
        stream, or ``(rest of the buffer, eof)`` when the sequential reader must take over."""
        skip_rows = self.sequential.skip + (1 if self.params["headers_first_row"] else 0)
        buffer: bytes | bytearray = prefix
        eof = False
        want = self.first_block_bytes
        offset = 0
        while not stop.is_set():
            if len(buffer) < want and not eof:
                buffer, eof = self._fill(buffer, want)
            if not buffer:
                return None
            start = len(codecs.BOM_UTF8) if not self.blocks and buffer.startswith(codecs.BOM_UTF8) else 0
            # The first block holds at least the header peek (whose records are complete: pyarrow must
            # find the rows to skip in it); later ones cut within ``want`` bytes.
            limit = max(want, len(prefix)) if not self.blocks else want
            window = buffer if len(buffer) <= limit else buffer[:limit]
            cut = safe_cut(window, self.separator, final=eof and window is buffer, start=start)
            if cut == _UNSAFE:
                self.fallback_at = offset
                return buffer, eof
            if cut is None:
                if len(buffer) >= MAX_RECORD_BYTES:
                    # A record longer than the limit, or a stray quote hiding every line end: the
                    # sequential reader tells which, with its own message.
                    self.fallback_at = offset
                    return buffer, eof
                want *= 2
                continue
            # A view, not a copy: the block's bytes stay those of the buffer while it is parsed.
            ascii = self.codec == "utf-8" and buffer.isascii()
            submit(memoryview(buffer)[:cut] if cut < len(buffer) else buffer, skip_rows, ascii)
            self.blocks += 1
            offset += cut
            skip_rows = 0
            buffer = buffer[cut:]
            want = self.block_bytes
            if eof and not buffer:
                return None
        return None

    def _fill(self, rest: bytes | bytearray, want: int) -> tuple[bytearray, bool]:
        """``rest`` followed by stream bytes up to ``want`` in all, in one new buffer; and whether the
        stream ended. The stream reads straight into the buffer (``readinto``): one copy of each byte
        from the S3 chunks or the inflater, not a read and then a join."""
        buffer = bytearray(want)
        buffer[: len(rest)] = rest
        filled, eof = len(rest), False
        with memoryview(buffer) as view:
            while filled < want:
                count = self.stream.readinto(view[filled:])  # type: ignore[attr-defined]  # every stream here has it
                if not count:
                    eof = True
                    break
                filled += count
        del buffer[filled:]
        return buffer, eof

    def batches(self) -> Iterator[pa.RecordBatch]:
        if not parallel_eligible(self.params, self.options):
            self.fallback_at = 0
            yield from self.sequential.batches()
            return
        prefix = self.sequential._peek()
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="datawharf-csv-parse")
        results: queue.Queue[Any] = queue.Queue()
        slots = threading.Semaphore(self.in_flight)
        stop = threading.Event()
        handoff: dict[str, Any] = {}
        done = object()

        def submit(data: bytes | memoryview, skip_rows: int, ascii: bool) -> None:
            while not slots.acquire(timeout=0.1):
                if stop.is_set():
                    raise _Stopped
            results.put(pool.submit(self._parse_block, data, skip_rows, ascii))

        def cut() -> None:
            try:
                handoff["rest"] = self._cut_blocks(prefix, submit, stop)
                results.put(done)
            except _Stopped:
                results.put(done)
            except BaseException as exc:  # delivered in order, after the blocks before it
                results.put(exc)

        reader = threading.Thread(target=cut, name="datawharf-csv-cut", daemon=True)
        reader.start()
        produced = 0
        try:
            while True:
                item = results.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                batch = item.result()
                slots.release()
                produced += batch.num_rows
                if batch.num_rows:
                    yield batch
            rest = handoff.get("rest")
            if rest is not None:
                for batch in self._sequential_rest(*rest):
                    produced += batch.num_rows
                    if batch.num_rows:
                        yield batch
            elif not produced:
                yield pa.RecordBatch.from_pylist([], schema=self.sequential._schema())
        finally:
            stop.set()
            while True:  # free the reader if it waits for a slot, and drop parsed blocks
                try:
                    item = results.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Future):
                    item.cancel()
            reader.join(timeout=5)
            pool.shutdown(wait=True, cancel_futures=True)

    def _sequential_rest(self, buffer: bytes, eof: bool) -> Iterator[pa.RecordBatch]:
        """The rest of the stream (``buffer`` then what is unread) through the sequential reader."""
        pending = [memoryview(buffer)]

        def read(size: int) -> bytes:
            if pending:
                head = pending[0]
                taken = bytes(head[:size])
                if len(taken) >= len(head):
                    pending.pop(0)
                else:
                    pending[0] = head[len(taken) :]
                return taken
            return b"" if eof else self.stream.read(size)

        rest = as_binary(ReplayStream(read, keep=MAX_RECORD_BYTES, chunk=1 * MiB))
        seq = self.sequential
        # Before the first cut, the rest is the whole stream: read it as the sequential reader would.
        reader = (
            _RestRead(rest, self.params, self.options, seq.names, seq.width)
            if self.blocks
            else _CsvRead(rest, self.params, self.options)
        )
        yield from reader.batches()


class _Stopped(Exception):
    """The consumer went away: the reader thread ends quietly."""


def read_parallel(
    stream: BinaryIO, params: dict[str, Any], options: ReadOptions, *, workers: int = WORKERS
) -> Iterator[pa.RecordBatch]:
    """``CsvExtractor().read`` for a full read, on ``workers`` threads when the dialect allows it."""
    return ParallelCsvRead(stream, params, options, workers=workers).batches()
