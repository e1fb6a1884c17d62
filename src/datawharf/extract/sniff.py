"""Which extractor, and what it sees: opening content and ranking extractors over a sample.

Guessing looks at the *content*: compression and archives are peeled first (``archive.open_content``),
so ``data.csv.gz`` is ranked as the CSV it holds. The sample is the first ``SAMPLE_BYTES`` of that
content, grown (up to ``SAMPLE_MAX_BYTES``) while it holds too few lines to judge a table by; the
content stream is rewound afterwards, so reading starts at byte 0 without fetching the head twice.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from datawharf.errors import ExtractError
from datawharf.extract._io import CountingReader, ReplayStream, as_binary
from datawharf.extract.base import Extractor, Sample
from datawharf.extract.limits import PREVIEW_RECORDS, SAMPLE_BYTES, SAMPLE_MAX_BYTES
from datawharf.extract.registry import EXTRACTORS


@dataclass
class OpenedContent:
    """The content ready for an extractor, its sample, and the counter of bytes pulled from the source."""

    content: BinaryIO
    filename: str
    sample: Sample
    source: CountingReader

    @property
    def bytes_read(self) -> int:
        return self.source.bytes_read


class _HeadCache(io.RawIOBase):
    """The content with its sample kept in memory: reading starts over at byte 0 for free.

    Without it a preview would fetch its first 64 KiB twice (once to guess, once to read). Reads past
    the sample, and seeks (a Parquet footer), go to the content stream.
    """

    def __init__(self, raw: BinaryIO, start: int, head: bytes) -> None:
        super().__init__()
        self._raw, self._start, self._head = raw, start, head
        self._pos = start
        self._raw_pos = start + len(head)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            self._raw_pos = self._raw.seek(offset, io.SEEK_END)
            offset = self._raw_pos
        self._pos = offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        offset = self._pos - self._start
        if 0 <= offset < len(self._head):
            end = len(self._head) if size is None or size < 0 else offset + size
            parts.append(self._head[offset:end])
            self._pos += len(parts[0])
            if size is not None and size >= 0:
                size -= len(parts[0])
        if size is None or size < 0 or size > 0:
            if self._raw_pos != self._pos:
                self._raw.seek(self._pos)
            data = self._raw.read(-1 if size is None else size)
            self._pos += len(data)
            self._raw_pos = self._pos
            parts.append(data)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _unwrap(stream: BinaryIO, filename: str, params: Mapping[str, Any]) -> tuple[BinaryIO, str]:
    try:
        from datawharf.extract.archive import open_content
    except ImportError:  # the archive module is optional for the core CSV path
        return stream, filename
    return open_content(stream, filename, dict(params))


def _rewindable(stream: BinaryIO) -> BinaryIO:
    try:
        if stream.seekable():
            return stream
    except (AttributeError, ValueError):
        pass
    return as_binary(ReplayStream(stream.read))


def open_sample(
    stream: BinaryIO, filename: str, content_type: str | None = None, params: Mapping[str, Any] | None = None
) -> OpenedContent:
    """Peel compression/archives, take the sample, rewind. ``stream`` should be seekable."""
    source = CountingReader(stream)
    content, inner = _unwrap(source, filename, params or {})  # type: ignore[arg-type]
    content = _rewindable(content)
    start = content.tell()
    size, head, complete = SAMPLE_BYTES, b"", False
    while True:
        chunk = content.read(size - len(head))
        head += chunk
        complete = len(head) < size
        if complete or head.count(b"\n") > 2 * PREVIEW_RECORDS or size >= SAMPLE_MAX_BYTES:
            break
        size = min(size * 4, SAMPLE_MAX_BYTES)
    return OpenedContent(
        content=_HeadCache(content, start, head),  # type: ignore[arg-type]
        filename=inner,
        sample=Sample(head=head, filename=inner, content_type=content_type, is_complete=complete),
        source=source,
    )


def guess_extractors(
    sample: Sample, extractors: Mapping[str, Extractor] | None = None
) -> list[tuple[str, float]]:
    """``[(extractor name, score)]``, best first; extractors that do not recognise the sample are left out."""
    scores = []
    for name, extractor in (extractors if extractors is not None else EXTRACTORS).items():
        score = extractor.detect(sample)
        if score > 0:
            scores.append((name, score))
    return sorted(scores, key=lambda item: -item[1])


def best_extractor(sample: Sample, extractors: Mapping[str, Extractor] | None = None) -> str:
    ranking = guess_extractors(sample, extractors)
    if not ranking:
        if not sample.head:
            raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
        raise ExtractError(
            f"The format of {sample.filename or 'the file'} was not recognised: choose its extractor "
            "(csvfile, jsonfile, xlsfile...) explicitly.",
            error_code="unknown_format",
        )
    return ranking[0][0]
