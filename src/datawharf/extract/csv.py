"""``csvfile``: delimited text (.csv .tsv .txt .dat).

Guessing runs Python's ``csv`` module over a decoded sample (a few hundred records: cheap, and it
respects quotes, so a ``;`` inside a quoted field does not vote for ``;``). Reading runs pyarrow's
streaming CSV reader with every column as text (types are guessed and converted later, in
``extract/types.py``, so a postal code keeps its leading zero).

pyarrow can only skip a row whose field count differs from the header's; ragged rows are common on
real portals (trailing empty cells dropped by a spreadsheet), so the invalid-row hook re-parses those
few rows, pads or trims them, and puts them back in place: the slow path costs per ragged row, never
per regular one.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import statistics
import threading
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, ClassVar

import charset_normalizer
import pyarrow as pa
import pyarrow.csv as pacsv

from datawharf.errors import ExtractError
from datawharf.extract.base import ExtractorParameter, ReadOptions, Sample
from datawharf.extract.limits import (
    MAX_FIELDS,
    MAX_RECORD_BYTES,
    PREVIEW_FIRST_BLOCK,
    PUBLISH_BLOCK,
    SAMPLE_RECORDS,
    MiB,
)
from datawharf.extract.types import guess_type

SEPARATORS = (",", ";", "\t", "|", " ")
FILENAME_FIELD = "filename"

# Python's csv module refuses fields over 128 KiB by default; our own limit applies instead.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))

_TEXT_CONTENT_TYPES = ("text/csv", "text/tab-separated-values", "application/csv", "text/plain")
# Encodings users know by these names; anything else keeps Python's codec name.
_DISPLAY_NAMES = {"utf-8": "utf-8", "cp1252": "windows-1252", "iso8859-1": "iso-8859-1", "utf-16": "utf-16"}
# Single-byte Western encodings charset detection confuses with one another on short samples: all of
# them read as windows-1252 (the superset browsers use for latin-1), or latin-1 if a byte is undefined.
_WESTERN = {"cp1252", "iso8859-1", "iso8859-15", "mac-roman", "cp850", "cp437", "cp1250", "iso8859-2"}


def _codec(encoding: str) -> str:
    """The codec's canonical name; only a character encoding (bytes to text) is one.

    Python's codec registry also holds bytes-to-bytes and text-to-text transforms (``zlib_codec``,
    ``base64_codec``, ``bz2_codec``, ``hex``, ``uu``, ``rot13``...): their decoders return bytes, or
    decompress without a bound, so they are refused by the registry's own mark of a text encoding, the
    one ``bytes.decode`` checks."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError) as exc:  # ValueError: a name with a NUL byte
        raise ExtractError(
            f"Unknown encoding {encoding!r}: use a name such as utf-8, windows-1252 or iso-8859-1.",
            error_code="unknown_encoding",
        ) from exc
    if not getattr(info, "_is_text_encoding", True):
        raise ExtractError(
            f"{encoding!r} is not a character encoding (it transforms bytes, e.g. compresses or "
            "encodes them in base64): use a character encoding such as utf-8, windows-1252 or "
            "iso-8859-1; a compressed file is recognised by its own format.",
            error_code="not_a_text_encoding",
        )
    return info.name


def _decode(head: bytes, encoding: str) -> str:
    """Decoded sample; a character cut at the end of the sample is dropped, not an error."""
    codec = _codec(encoding)
    if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(head, final=False)


def looks_binary(head: bytes) -> bool:
    """NUL bytes (outside UTF-16) or many control characters: not text whatever the encoding."""
    window = head[:4096]
    if (
        not window
        or window.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        or _utf16_without_bom(head)
    ):
        return False
    if b"\x00" in window:
        return True
    controls = sum(1 for byte in window if byte < 32 and byte not in (9, 10, 12, 13))
    return controls > len(window) // 100


def _utf16_without_bom(head: bytes) -> str | None:
    window = head[:4096]
    if len(window) < 8:
        return None
    even, odd = window[0::2], window[1::2]
    if odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.05:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.05:
        return "utf-16-be"
    return None


def guess_encoding(head: bytes) -> str:
    """BOM, then UTF-8 (strict), then charset detection (charset-normalizer) for legacy encodings."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(head[: 64 * 1024]).best()
    codec = _codec(best.encoding) if best is not None else "cp1252"
    if best is None or codec in _WESTERN:
        try:
            head.decode("cp1252")
            return "windows-1252"
        except UnicodeDecodeError:
            return "iso-8859-1"
    return _DISPLAY_NAMES.get(codec, codec)


def _parse(
    text: str, separator: str, escapechar: str | None, doublequote: bool, limit: int
) -> list[list[str]]:
    """Records of a text sample; a record the end of the sample may have cut is dropped by the caller."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=separator,
        quotechar='"',
        doublequote=doublequote,
        escapechar=escapechar or None,
        strict=False,
    )
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    return records


def _consistency(records: Sequence[Sequence[str]]) -> tuple[float, int]:
    """(share of records having the most common field count, that count), blank lines ignored."""
    counts = [len(r) for r in records if r and any(cell.strip() for cell in r)]
    if not counts:
        return 0.0, 0
    modal = statistics.mode(counts)
    # Two modes: prefer the wider one (data rows are wider than titles).
    widest = max(c for c in set(counts) if counts.count(c) == counts.count(modal))
    return counts.count(widest) / len(counts), widest


def guess_dialect(text: str, complete: bool) -> tuple[str, str | None, bool]:
    """(separator, escapechar, doublequote) that cut the sample into the most regular table."""
    best: tuple[float, str] = (-1.0, ",")
    for separator in SEPARATORS:
        records = _parse(text, separator, None, True, SAMPLE_RECORDS + 1)
        if not complete and len(records) > 1:
            records = records[:-1]
        share, width = _consistency(records)
        if width < 2:
            continue
        score = share * (1 - 1 / (width + 1))
        if separator == " ":
            score *= 0.8  # spaces are in every text: only when nothing else makes a table
        if score > best[0]:
            best = (score, separator)
    separator = best[1]
    if '\\"' in text:
        plain = _consistency(_parse(text, separator, None, True, SAMPLE_RECORDS))
        escaped = _consistency(_parse(text, separator, "\\", False, SAMPLE_RECORDS))
        if escaped[0] > plain[0]:
            return separator, "\\", False
    return separator, None, True


def _non_empty(record: Sequence[str]) -> int:
    return sum(1 for cell in record if cell.strip())


def guess_first_row(records: Sequence[Sequence[str]], width: int) -> int:
    """0-based index of the record where the table starts (header or first data row).

    Title lines, notes and blank lines above a table are narrower, or as wide but mostly empty: the
    table starts at the first record that is about as wide and about as filled as the typical one.
    """
    if width < 2:
        return next((i for i, r in enumerate(records) if _non_empty(r)), 0)
    filled = [_non_empty(r) for r in records if len(r) >= width]
    typical = statistics.median(filled) if filled else 1
    for index, record in enumerate(records):
        if len(record) >= width * 0.5 and _non_empty(record) >= max(2, typical * 0.5):
            return index
    return 0


def guess_headers(rows: Sequence[Sequence[str]]) -> bool:
    """Whether the first row names the columns.

    It does unless its cells have the types of the cells below (a header-less file starts with data):
    columns typed in the data (numbers, dates) whose first cell has the same type vote "data", those
    whose first cell differs vote "header". All-text tables keep the usual header.
    """
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:]
    same = differ = 0
    for column, cell in enumerate(first):
        below = [r[column] for r in rest if column < len(r) and r[column].strip()]
        if not below or not cell.strip():
            continue
        below_type = guess_type(pa.array(below))
        if below_type == "text":
            continue
        if guess_type(pa.array([cell])) == below_type:
            same += 1
        else:
            differ += 1
    return differ >= same


class CsvExtractor:
    name: ClassVar[str] = "csvfile"
    label: ClassVar[str] = "CSV"
    description: ClassVar[str] = "Delimited text: comma, semicolon, tab, pipe or space separated values."
    extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt", ".dat")
    parameters: ClassVar[tuple[ExtractorParameter, ...]] = (
        ExtractorParameter("encoding", "string", "Encoding", "Character encoding of the file.", "utf-8"),
        ExtractorParameter(
            "separator", "string", "Separator", "Character between two values.", ",", choices=SEPARATORS
        ),
        ExtractorParameter(
            "escapechar", "string", "Escape character", "Character escaping a quote inside a value.", None
        ),
        ExtractorParameter(
            "doublequote",
            "boolean",
            "Double quote",
            "A doubled quote inside a quoted value is a quote.",
            True,
        ),
        ExtractorParameter(
            "first_row_no", "int", "First row", "Number of the first row to read (the header, if any).", 1
        ),
        ExtractorParameter(
            "headers_first_row", "boolean", "Headers in first row", "The first row holds column names.", True
        ),
        ExtractorParameter(
            "extract_filename", "boolean", "Extract filename", "Add a field with the file's name.", False
        ),
    )

    def detect(self, sample: Sample) -> float:
        if not sample.head:
            return 0.05 if self._by_name(sample) else 0.0
        if looks_binary(sample.head):
            return 0.05 if self._by_name(sample) else 0.0
        score = 0.6 if self._by_name(sample) else 0.0
        if (sample.content_type or "").split(";")[0].strip().lower() in _TEXT_CONTENT_TYPES:
            score = max(score, 0.6)
        text = _decode(sample.head, guess_encoding(sample.head)).lstrip()
        if text[:1] in ("{", "["):
            return min(score, 0.2)  # JSON's extractors know better
        separator, _, _ = guess_dialect(text[:65536], sample.is_complete)
        records = _parse(text[:65536], separator, None, True, 50)
        share, width = _consistency(records[:-1] if len(records) > 2 else records)
        if width >= 2 and share >= 0.8:
            score += 0.3
        return min(score, 0.95)

    def _by_name(self, sample: Sample) -> bool:
        return os.path.splitext(sample.filename.lower())[1] in self.extensions

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        if not sample.head:
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        if looks_binary(sample.head):
            raise ExtractError(
                f"{sample.filename or 'The file'} is not text (it holds binary bytes): "
                "check that it is a CSV file, or choose the extractor of its real format.",
                error_code="binary_content",
            )
        encoding = guess_encoding(sample.head)
        text = _decode(sample.head, encoding)
        separator, escapechar, doublequote = guess_dialect(text, sample.is_complete)
        records = _parse(text, separator, escapechar, doublequote, SAMPLE_RECORDS + 1)
        if not sample.is_complete and len(records) > 1:
            records = records[:-1]
        _, width = _consistency(records)
        start = guess_first_row(records, width)
        return {
            "encoding": encoding,
            "separator": separator,
            "escapechar": escapechar,
            "doublequote": doublequote,
            "first_row_no": start + 1,
            "headers_first_row": guess_headers(records[start:]),
            "extract_filename": False,
        }

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        params = self._complete(params)
        if options.max_records is not None:
            return _windowed(stream, params, options)
        return _CsvRead(stream, params, options).batches()

    def _complete(self, params: dict[str, Any]) -> dict[str, Any]:
        merged = {p.name: p.default for p in self.parameters}
        merged.update({k: v for k, v in params.items() if v is not None or k == "escapechar"})
        separator = merged["separator"]
        if separator in ("\\t", "tab"):
            merged["separator"] = "\t"
        elif not isinstance(separator, str) or len(separator) != 1:
            raise ExtractError(
                f"The separator must be one character, got {separator!r}.", error_code="invalid_parameter"
            )
        escapechar = merged.get("escapechar") or None
        if escapechar is not None and len(escapechar) != 1:
            raise ExtractError("The escape character must be one character.", error_code="invalid_parameter")
        merged["escapechar"] = escapechar
        try:
            merged["first_row_no"] = max(1, int(merged["first_row_no"]))
        except (TypeError, ValueError) as exc:
            raise ExtractError("first_row_no must be a number.", error_code="invalid_parameter") from exc
        merged["encoding"] = str(merged["encoding"] or "utf-8")
        _codec(merged["encoding"])
        return merged


def _newline(codec: str, head: bytes) -> bytes:
    if codec == "utf-16":
        codec = "utf-16-be" if head.startswith(codecs.BOM_UTF16_BE) else "utf-16-le"
    try:
        return "\n".encode(codec)
    except (LookupError, UnicodeEncodeError):
        return b"\n"


def _windowed(stream: BinaryIO, params: dict[str, Any], options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """The first ``max_records`` records, reading a prefix that grows x4 until they are complete.

    pyarrow's streaming reader reads megabytes ahead of the batch it returns; a preview must fetch
    only what it shows, so the prefix is parsed whole, cut after its last newline. When it does not
    reach the end of the stream, its last record may be cut, so one record more than wanted must be
    there before stopping. Past ``max_bytes`` the complete records found are returned, or an error
    when there is none.
    """
    wanted = options.max_records or 0
    cap = options.max_bytes or MAX_RECORD_BYTES
    codec = _codec(params["encoding"])
    window, buffer, eof = min(PREVIEW_FIRST_BLOCK, cap), b"", False
    while True:
        while len(buffer) < window and not eof:
            chunk = stream.read(window - len(buffer))
            eof = not chunk
            buffer += chunk or b""
        if not buffer:
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        end = len(buffer)
        if not eof:
            newline = _newline(codec, buffer[:4])
            cut = buffer.rfind(newline)
            end = cut + len(newline) if cut >= 0 else 0
        batches: list[pa.RecordBatch] = []
        if end:
            inner = ReadOptions(max_records=wanted + (0 if eof else 1), filename=options.filename)
            try:
                prefix = pa.BufferReader(pa.py_buffer(buffer[:end]))  # native: pyarrow never calls back
                batches = list(_CsvRead(prefix, params, inner, block=end + 1).batches())
            except ExtractError as exc:
                if eof or exc.error_code not in ("csv_parse_error", "record_too_long", "no_such_row"):
                    raise
        rows = sum(b.num_rows for b in batches)
        if eof or rows > wanted or window >= cap:
            keep = wanted if eof or rows > wanted else rows - 1
            if keep <= 0 and not (eof and end):
                raise ExtractError(
                    f"No complete record in the first {cap / MiB:g} MiB: "
                    "check the separator and the encoding.",
                    error_code="no_complete_record",
                    detail={"byte_offset": len(buffer)},
                )
            yield from _head(batches, keep)
            return
        window = min(window * 4, cap)


def _head(batches: Sequence[pa.RecordBatch], count: int) -> Iterator[pa.RecordBatch]:
    """The first ``count`` rows; an empty batch still tells the columns of a header-only file."""
    if batches and not any(b.num_rows for b in batches):
        yield batches[0]
        return
    for batch in batches:
        if count <= 0:
            return
        if batch.num_rows:
            yield batch.slice(0, count)
            count -= min(count, batch.num_rows)


class _Positioned(io.RawIOBase):
    """A read of ``stream`` from ``start`` that keeps its own position.

    A retry starts over on the same stream while the abandoned pyarrow reader may still have a
    read-ahead in flight on another thread; seeking and reading under one lock, and retiring the old
    view (it then reads nothing), keeps the two from moving each other's position.
    """

    def __init__(self, stream: BinaryIO, start: int, lock: threading.Lock) -> None:
        super().__init__()
        self._stream, self._pos, self._lock, self._retired = stream, start, lock, False

    def readable(self) -> bool:
        return True

    def retire(self) -> None:
        self._retired = True

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            if self._retired:
                return b""
            self._stream.seek(self._pos)
            data = self._stream.read(size)
            self._pos += len(data)
            return data

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _Prefixed(io.RawIOBase):
    """Bytes already read (to find the header), then the rest of the stream: lets a non-seekable stream
    be peeked at without reading it twice."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix, self._offset, self._rest = prefix, 0, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._offset < len(self._prefix):
            end = len(self._prefix) if size < 0 else self._offset + size
            chunk = self._prefix[self._offset : end]
            self._offset += len(chunk)
            return chunk
        return self._rest.read(size)

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _CsvRead:
    """One read of one stream: header peek, pyarrow streaming, ragged-row repair."""

    def __init__(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions, block: int | None = None
    ) -> None:
        self.stream, self.params, self.options = stream, params, options
        self.block = block or PUBLISH_BLOCK
        self.codec = _codec(params["encoding"])
        self.start = stream.tell() if _seekable(stream) else None
        self.skip = params["first_row_no"] - 1
        self.width = 0
        self.names: list[str] = []
        self.lock = threading.Lock()  # one stream, read by successive pyarrow readers (block growth)

    # -- header -------------------------------------------------------------------------------------
    def _peek(self) -> bytes:
        """Read until the header and a few data rows are complete; learn names and width."""
        size, buffer, eof = 64 * 1024, bytearray(), False
        wanted = self.skip + 1 + 50
        while True:
            while len(buffer) < size and not eof:
                chunk = self.stream.read(size - len(buffer))
                eof = not chunk
                buffer += chunk or b""
            if not buffer:
                raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
            newline = _newline(self.codec, bytes(buffer[:2]))
            if not eof and buffer.count(newline) < self.skip + 2:
                # Not even enough lines for the header and a record: read on before decoding anything.
                if size >= MAX_RECORD_BYTES:
                    raise self._too_long()
                size *= 4
                continue
            prefix = bytes(buffer)
            text = self._text(prefix)
            records = _parse(
                text,
                self.params["separator"],
                self.params["escapechar"],
                self.params["doublequote"],
                wanted + 1,
            )
            complete = records if eof else records[:-1]
            enough_rows = len(complete) >= self.skip + 2 and size >= 256 * 1024
            if eof or len(complete) >= wanted or enough_rows:
                break
            if size >= MAX_RECORD_BYTES:
                raise self._too_long()
            size *= 4
        table = complete[self.skip :]
        if not table:
            raise ExtractError(
                f"The file has no row {self.params['first_row_no']}: lower first_row_no.",
                error_code="no_such_row",
            )
        header = table[0] if self.params["headers_first_row"] else []
        data = table[1:] if self.params["headers_first_row"] else table
        widths = [len(r) for r in data if r]
        self.width = max([len(header), statistics.mode(widths) if widths else 0, 1])
        if self.width > MAX_FIELDS:
            raise ExtractError(
                f"More than {MAX_FIELDS} columns: the separator is probably wrong; check it.",
                error_code="too_many_fields",
            )
        self.names = [header[i] if i < len(header) else "" for i in range(self.width)]
        return prefix

    def _text(self, prefix: bytes) -> str:
        codec = "utf-8-sig" if self.codec == "utf-8" else self.codec
        try:
            return codecs.getincrementaldecoder(codec)().decode(prefix, final=False)
        except UnicodeError as exc:  # a decode error, or "UTF-16 stream does not start with BOM"
            raise self._bad_encoding(getattr(exc, "start", None)) from exc

    def _bad_encoding(self, offset: int | None) -> ExtractError:
        encoding = self.params["encoding"]
        return ExtractError(
            f"The file is not valid {encoding}"
            + (f" (byte {offset})" if offset is not None else "")
            + ": choose its real encoding (for instance windows-1252, iso-8859-1 or utf-16).",
            error_code="invalid_encoding",
            detail={"byte_offset": offset} if offset is not None else {},
        )

    def _too_long(self) -> ExtractError:
        return ExtractError(
            f"A record is longer than {MAX_RECORD_BYTES // MiB} MiB: check the separator, the quotes "
            "and the encoding (a stray quote makes the rest of the file one value).",
            error_code="record_too_long",
        )

    # -- reading ------------------------------------------------------------------------------------
    def batches(self) -> Iterator[pa.RecordBatch]:
        prefix = self._peek()
        block = self.block
        done = 0
        rest: Any = self.stream
        if self.start is not None:
            rest = _Positioned(self.stream, self.start + len(prefix), self.lock)
        source: Any = _Prefixed(prefix, rest)
        if isinstance(self.stream, pa.NativeFile) and self.start is not None:
            self.stream.seek(self.start)
            source = self.stream
        while True:
            try:
                for batch in self._arrow(source, block, skip_records=done):
                    if self.options.max_records is not None:
                        batch = batch.slice(0, self.options.max_records - done)
                    done += batch.num_rows
                    if batch.num_rows:
                        yield batch
                    if self.options.max_records is not None and done >= self.options.max_records:
                        return
                if not done:
                    yield pa.RecordBatch.from_pylist([], schema=self._schema())
                return
            except pa.ArrowInvalid as exc:
                message = str(exc)
                if "straddling" not in message:
                    raise self._translate(exc) from exc
                if block >= MAX_RECORD_BYTES or self.start is None:
                    raise self._too_long() from exc
                block = min(block * 4, MAX_RECORD_BYTES)
                for view in (source, rest):
                    if isinstance(view, _Positioned):
                        view.retire()
                source = _Positioned(self.stream, self.start, self.lock)

    def _schema(self) -> pa.Schema:
        names = [*self.names, FILENAME_FIELD] if self._with_filename() else self.names
        return pa.schema([pa.field(name, pa.string()) for name in names])

    def _with_filename(self) -> bool:
        return bool(self.params.get("extract_filename")) and self.options.filename is not None

    def _translate(self, exc: Exception) -> ExtractError:
        message = str(exc)
        if "UTF8" in message or "UTF-8" in message:
            return self._bad_encoding(None)
        return ExtractError(
            f"The file could not be read as CSV ({message.splitlines()[0][:200]}): check the separator, "
            "the quotes and first_row_no.",
            error_code="csv_parse_error",
        )

    def _arrow(self, source: Any, block: int, skip_records: int) -> Iterator[pa.RecordBatch]:
        columns = [f"c{i}" for i in range(self.width)]
        repaired: list[tuple[int, list[str | None]]] = []

        def on_invalid(row: Any) -> str:
            if len(row.text) > MAX_RECORD_BYTES:
                raise self._too_long()
            cells = next(
                iter(
                    _parse(
                        row.text,
                        self.params["separator"],
                        self.params["escapechar"],
                        self.params["doublequote"],
                        1,
                    )
                ),
                [],
            )
            fixed: list[str | None] = [*cells[: self.width], *([None] * (self.width - len(cells)))]
            repaired.append((row.number if row.number is not None else -1, fixed))
            return "skip"

        reader_options = pacsv.ReadOptions(
            use_threads=False,  # keeps row numbers (ragged-row repair) and bounded read-ahead
            block_size=block,
            skip_rows=self.skip + (1 if self.params["headers_first_row"] else 0),
            column_names=columns,
            encoding=self.codec if self.codec not in ("utf-8", "utf-8-sig") else "utf8",
        )
        parse_options = pacsv.ParseOptions(
            delimiter=self.params["separator"],
            quote_char='"',
            double_quote=bool(self.params["doublequote"]),
            escape_char=self.params["escapechar"] or False,
            newlines_in_values=True,
            invalid_row_handler=on_invalid,
        )
        convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        try:
            reader = pacsv.open_csv(
                source,
                read_options=reader_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except UnicodeError as exc:
            raise self._bad_encoding(None) from exc
        try:
            yield from self._batches(reader, reader_options.skip_rows + 1, skip_records, columns, repaired)
        finally:
            # A reader left open keeps read-ahead threads calling into the stream: close it even when
            # the caller stops early (a preview) or an error unwinds.
            reader.close()

    def _batches(
        self,
        reader: Any,
        next_row: int,
        skip_records: int,
        columns: list[str],
        repaired: list[tuple[int, list[str | None]]],
    ) -> Iterator[pa.RecordBatch]:
        schema = pa.schema([pa.field(name, pa.string()) for name in self.names])
        # next_row: pyarrow numbers data records from skip_rows + 1
        to_skip = skip_records
        filename = self.options.filename
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                batch = None
            except UnicodeError as exc:
                raise self._bad_encoding(None) from exc
            final = batch is None
            if batch is None:
                if not repaired:
                    return
                batch = pa.RecordBatch.from_pylist([], schema=pa.schema([(c, pa.string()) for c in columns]))
            if repaired:
                # on_invalid runs on pyarrow's read-ahead thread and may append while this merges: take
                # the rows seen so far off the front, and put back only what belongs to a later batch.
                taken = repaired[:]
                del repaired[: len(taken)]
                batch, next_row, later = _merge(batch, taken, next_row, columns, final)
                repaired[:0] = later
            else:
                next_row += batch.num_rows
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            if to_skip:
                cut = min(to_skip, batch.num_rows)
                batch, to_skip = batch.slice(cut), to_skip - cut
            if self.params.get("extract_filename") and filename is not None:
                batch = batch.append_column(
                    FILENAME_FIELD, pa.repeat(pa.scalar(filename, pa.string()), batch.num_rows)
                )
            yield batch


def _merge(
    batch: pa.RecordBatch,
    repaired: list[tuple[int, list[str | None]]],
    next_row: int,
    columns: list[str],
    final: bool = False,
) -> tuple[pa.RecordBatch, int, list[tuple[int, list[str | None]]]]:
    """Put repaired rows back where they were, by pyarrow's record numbers: O(ragged rows), not O(rows).

    pyarrow parses a block ahead of the batch it returns, so some repaired rows may belong to a later
    batch: those are handed back, to be merged then. Rows pyarrow could not number (-1) go last.
    """
    pieces: list[pa.RecordBatch] = []
    schema = pa.schema([(c, pa.string()) for c in columns])
    taken = 0
    later: list[tuple[int, list[str | None]]] = []
    for number, cells in sorted(repaired, key=lambda item: item[0]):
        if number >= 0:
            valid_before = number - next_row
            if valid_before > batch.num_rows - taken and not final:
                later.append((number, cells))
                continue
            valid_before = min(valid_before, batch.num_rows - taken)
            if valid_before > 0:
                pieces.append(batch.slice(taken, valid_before))
                taken += valid_before
                next_row += valid_before
        pieces.append(pa.RecordBatch.from_pylist([dict(zip(columns, cells, strict=True))], schema=schema))
        next_row += 1
    if taken < batch.num_rows:
        pieces.append(batch.slice(taken))
        next_row += batch.num_rows - taken
    merged = pa.Table.from_batches(pieces, schema=schema).combine_chunks()
    return (merged.to_batches()[0] if merged.num_rows else batch.slice(0, 0)), next_row, later


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False
