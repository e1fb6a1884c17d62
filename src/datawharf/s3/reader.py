"""Reading one S3 object: HEAD (or, for a preview, a probe: HEAD and the first bytes in one ranged GET),
and a seekable read-only file object over ranged GETs.

The file object never holds the whole object: its cache (``caches.py``) decides what to fetch, for a
preview (a few small reads, growing read-ahead, random access for footers) or a publish (sequential,
overlapping parallel GETs, bounded memory). Every range is a GET with ``If-Match: <ETag of the HEAD>``,
so an object replaced mid-read fails as ``object_changed`` instead of mixing two versions (s3fs does
the same); the ETag and total size of each answer are checked too, for servers that ignore If-Match.
A body that stops coming for ``DATAWHARF_S3_READ_TIMEOUT`` seconds fails as ``s3_read_timeout`` at
once (not retried: a retry would multiply the wait on a frozen server); a body that broke is retried.

A small object of known size (one of a prefix or glob, as listed) is read whole in one plain GET
instead (``read_small_object``): no Range, no read-ahead pool started for one chunk, and the same
If-Match, checks, read timeout and error table.

Extractors receive an ``S3File`` (or a ``SmallFile``) as any binary file (``read``, ``readinto``,
``seek``, ``tell``, ``peek``); they never know it comes from S3.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore import exceptions as bx

from datawharf.errors import ConnectionProblem, DatawharfError, UpstreamUnavailable
from datawharf.s3.caches import BaseCache, Fetcher, MiB, ReadAheadCache, StreamingCache
from datawharf.s3.client import S3Client
from datawharf.s3.errors import Where, request_ids, translate, translated

AccessPattern = Literal["preview", "stream"]

# A HEAD error has no body, so botocore only knows the status: these get a 1-byte GET to learn the code.
_BODYLESS_CODES = {"400", "403", "404"}
_PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # as S3 sends it, quotes included: what If-Match wants back
    last_modified: datetime | None
    content_type: str | None
    version_id: str | None = None


def head_object(client: S3Client, bucket: str, key: str) -> ObjectInfo:
    """Size, ETag, Last-Modified and Content-Type of an object, or the translated reason it is not readable.

    A failed HEAD only says "403" or "404"; a one-byte GET then tells which (unknown key, bad
    signature, access denied, no such bucket or key), for the message the user needs.
    """
    where = client.where(bucket, key)
    try:
        response = client.raw.head_object(Bucket=bucket, Key=key)
    except bx.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _BODYLESS_CODES:
            raise _diagnose(client, bucket, key, exc) from exc
        raise translate(exc, where) from exc
    except bx.BotoCoreError as exc:
        raise translate(exc, where) from exc
    return ObjectInfo(
        size=int(response["ContentLength"]),
        etag=str(response.get("ETag", "")),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
        version_id=response.get("VersionId"),
    )


def probe_object(
    client: S3Client, bucket: str, key: str, head_bytes: int = _PEEK_BYTES
) -> tuple[ObjectInfo, bytes]:
    """What ``head_object`` tells, plus the object's first ``head_bytes``, in one request.

    A preview reads the head of the object right after its HEAD: one ranged GET answers both (the total
    size is in its Content-Range), a round trip less per preview (20-50 ms against a remote store, 5 ms
    on loopback). Its errors have a body, so they are precise without a second request. An empty object
    (a range of it is "not satisfiable") gets a plain HEAD; a server that ignores ranges sends the
    whole object, of which only the head is read before the connection is dropped.
    """
    where = client.where(bucket, key)
    try:
        response = client.raw.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{head_bytes - 1}")
    except bx.ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in ("InvalidRange", "416"):
            return head_object(client, bucket, key), b""
        raise translate(exc, where) from exc
    except bx.BotoCoreError as exc:
        raise translate(exc, where) from exc
    body = response["Body"]
    try:
        head: bytes = body.read(head_bytes)
    except bx.ReadTimeoutError as exc:
        raise read_timeout(client, where) from exc
    except (bx.ResponseStreamingError, bx.IncompleteReadError) as exc:
        raise translate(exc, where) from exc
    finally:
        body.close()
    total = str(response.get("ContentRange", "")).rpartition("/")[2]
    if total.isdigit():
        size = int(total)
    elif response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:
        size = int(response["ContentLength"])  # the whole object came: its length is the size
    else:  # a part without its Content-Range: its length is not the object's size
        return head_object(client, bucket, key), head
    info = ObjectInfo(
        size=size,
        etag=str(response.get("ETag", "")),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
        version_id=response.get("VersionId"),
    )
    return info, head[:size]


def _diagnose(client: S3Client, bucket: str, key: str, head_error: bx.ClientError) -> DatawharfError:
    where = client.where(bucket, key)
    try:
        client.raw.get_object(Bucket=bucket, Key=key, Range="bytes=0-0")["Body"].close()
    except bx.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code and not code.isdigit() and code != "InvalidRange":
            return translate(exc, where)
    except (bx.BotoCoreError, DatawharfError):
        pass
    return translate(head_error, where)


def head_bucket(client: S3Client, bucket: str) -> None:
    """Check that the bucket exists and the credentials may list it (validation of a bucket URL)."""
    where = client.where(bucket)
    try:
        client.raw.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except (bx.ClientError, bx.BotoCoreError) as exc:
        raise translate(exc, where) from exc


def range_fetcher(client: S3Client, bucket: str, key: str, info: ObjectInfo, *, attempts: int = 3) -> Fetcher:
    """A Fetcher of ``[start, end)`` by ranged GET pinned to ``info.etag`` (thread-safe)."""
    where = client.where(bucket, key)

    def fetch(start: int, end: int) -> bytes:
        params = {**_pinned(bucket, key, info), "Range": f"bytes={start}-{end - 1}"}
        return _get(
            client, params, info, where, end - start, attempts=attempts, detail={"range": [start, end]}
        )

    return fetch


def read_small_object(
    client: S3Client, bucket: str, key: str, info: ObjectInfo, *, attempts: int = 3
) -> SmallFile:
    """The whole of a small object (its size known from a listing or a HEAD) in one GET, no Range.

    A set of 1,000 small objects is dominated by what each object costs, not by its bytes: the
    streaming reader starts a thread pool and a cache for one ranged GET of the whole object; this is
    that GET alone, into memory. It keeps what the ranged path guarantees: pinned
    to ``info.etag`` with If-Match (an object replaced since the listing fails as ``object_changed``),
    the answer's ETag and length checked (for servers that ignore If-Match), never more than
    ``info.size`` bytes taken from the body, the read timeout and the error table. The caller bounds
    ``info.size`` (the bytes are held in memory).
    """
    where = client.where(bucket, key)
    data = _get(client, _pinned(bucket, key, info), info, where, info.size, attempts=attempts)
    return SmallFile(data, name=f"s3://{bucket}/{key}", info=info)


def _pinned(bucket: str, key: str, info: ObjectInfo) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if info.etag:
        params["IfMatch"] = info.etag
    return params


def _get(
    client: S3Client,
    params: dict[str, Any],
    info: ObjectInfo,
    where: Where,
    length: int,
    *,
    attempts: int,
    detail: dict[str, Any] | None = None,
) -> bytes:
    """Exactly ``length`` bytes of one GET of the object ``info`` describes, or the translated reason.

    A body that broke half-way is retried (botocore retries requests, not bodies); one that stopped
    coming is not (``read_timeout``).
    """
    for attempt in range(1, attempts + 1):
        with translated(where):
            response = client.raw.get_object(**params)
        _check_same_object(response, info, where)
        body = response["Body"]
        try:
            data = _read_at_most(body, length + 1)  # one byte more: a longer body is caught, not held
        except bx.ReadTimeoutError as exc:
            body.close()  # the frozen connection goes, not back to the pool
            raise read_timeout(client, where) from exc
        except (bx.ResponseStreamingError, bx.IncompleteReadError) as exc:
            if attempt == attempts:
                raise translate(exc, where) from exc
            time.sleep(0.05 * 2**attempt)
            continue
        if len(data) != length:
            body.close()
            sent = f"more than {length}" if len(data) > length else str(len(data))
            raise ConnectionProblem(
                f"{where.target} returned {sent} bytes where {length} were expected: the object changed "
                "or the server misbehaved; run the operation again.",
                step="object",
                error_code="object_changed",
                detail={"expected_bytes": length, **(detail or {}), **request_ids(response)},
            )
        return data
    raise AssertionError("unreachable")


def _read_at_most(body: Any, limit: int) -> bytes:
    """The body up to its end or ``limit`` bytes, whichever comes first (botocore checks, at the end,
    that the body was as long as its Content-Length: a truncated one raises ``IncompleteReadError``)."""
    parts: list[bytes] = []
    taken = 0
    while taken < limit:
        chunk: bytes = body.read(limit - taken)
        if not chunk:
            break
        parts.append(chunk)
        taken += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_timeout(client: S3Client, where: Where) -> UpstreamUnavailable:
    """The error of a body that stopped coming: names the setting, its value and what to do."""
    seconds = client.raw.meta.config.read_timeout
    return UpstreamUnavailable(
        f"{where.endpoint or 'The S3 endpoint'} stopped sending {where.target}: no bytes came for "
        f"{seconds:g} s (DATAWHARF_S3_READ_TIMEOUT). Check that the endpoint is up and not overloaded, "
        "then run the operation again; if it is only slow, raise DATAWHARF_S3_READ_TIMEOUT.",
        step="object",
        error_code="s3_read_timeout",
        detail={"read_timeout_seconds": seconds},
    )


def _check_same_object(response: dict[str, Any], info: ObjectInfo, where: Where) -> None:
    """The answer is of the object ``info`` describes: same ETag, same total size (a part's
    Content-Range, or a whole answer's Content-Length)."""
    etag = response.get("ETag")
    total = str(response.get("ContentRange", "")).rpartition("/")[2]
    if not total and response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:
        total = str(response.get("ContentLength", ""))
    if (info.etag and etag and etag != info.etag) or (total.isdigit() and int(total) != info.size):
        response["Body"].close()
        raise ConnectionProblem(
            f"{where.target} was replaced while it was being read (its ETag or size changed): run the "
            "operation again to read the new version.",
            step="object",
            error_code="object_changed",
            detail=request_ids(response),
        )


class S3File(io.RawIOBase):
    """A seekable, read-only binary file over a cache of ranged reads."""

    def __init__(self, cache: BaseCache, *, name: str, info: ObjectInfo | None = None) -> None:
        super().__init__()
        self._cache = cache
        self._position = 0
        self.name = name
        self.info = info

    # --- what tests and the benchmark observe
    @property
    def size(self) -> int:
        return self._cache.size

    @property
    def cache(self) -> BaseCache:
        return self._cache

    @property
    def bytes_fetched(self) -> int:
        return self._cache.bytes_fetched

    @property
    def requests(self) -> int:
        return self._cache.requests

    # --- io protocol
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise OSError(22, "negative seek position")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        end = self.size if size is None or size < 0 else self._position + size
        data = self._cache.fetch(self._position, end)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        with memoryview(buffer) as view, view.cast("B") as flat:
            count = self._cache.fetch_into(self._position, flat)
        self._position += count
        return count

    def _buffered(self) -> tuple[bytes, int]:
        """The cached block at the current position (fetching it if needed) and the offset in it."""
        block, offset = self._cache.buffered(self._position)
        if offset >= len(block) and self._position < self.size:
            self._cache.fetch(self._position, self._position + 1)
            block, offset = self._cache.buffered(self._position)
        return block, offset

    def peek(self, size: int = 0) -> bytes:
        """Buffered bytes from the current position (at least one unless at the end), not advancing."""
        self._check_open()
        block, offset = self._buffered()
        return block[offset : offset + max(size, _PEEK_BYTES)]

    def readline(self, size: int | None = -1) -> bytes:
        """A line, searched for in the cached blocks in place (IOBase's default reads byte by byte)."""
        self._check_open()
        limit = None if size is None or size < 0 else size
        parts: list[bytes] = []
        taken = 0
        while limit is None or taken < limit:
            block, offset = self._buffered()
            if offset >= len(block):
                break
            stop = len(block) if limit is None else min(len(block), offset + limit - taken)
            newline = block.find(b"\n", offset, stop)
            end = stop if newline < 0 else newline + 1
            parts.append(block[offset:end])
            taken += end - offset
            self._position += end - offset
            if newline >= 0:
                break
        return b"".join(parts)

    def close(self) -> None:
        if not self.closed:
            self._cache.close()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")


class SmallFile(io.BytesIO):
    """A small object held whole (``read_small_object``): seekable, with ``peek`` as ``S3File`` has."""

    def __init__(self, data: bytes, *, name: str, info: ObjectInfo) -> None:
        super().__init__(data)  # shares ``data`` until written to: no copy
        self.name = name
        self.info = info

    def peek(self, size: int = 0) -> bytes:
        """Bytes from the current position (at least one unless at the end), not advancing."""
        position = self.tell()
        data = self.read(max(size, _PEEK_BYTES))
        self.seek(position)
        return data


def open_object(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    access: AccessPattern = "preview",
    info: ObjectInfo | None = None,
    head: bytes = b"",
    chunk_size: int = 8 * MiB,
    concurrency: int = 4,
    max_fetch_bytes: int | None = None,
) -> S3File:
    """Open an object for reading; HEADs it first unless ``info`` (from an earlier HEAD) is given.

    ``access="preview"``: small reads and random access, read-ahead growing from 64 KiB.
    ``access="stream"``: sequential reading with ``concurrency`` ranged GETs of ``chunk_size`` bytes in
    flight; memory stays at ``concurrency * chunk_size``.
    ``max_fetch_bytes``: refuse (``read_budget_exceeded``) to fetch more than this in all.
    ``head``: the object's first bytes, already fetched with ``info`` (``probe_object``): a preview
    starts from them.
    """
    info = info or head_object(client, bucket, key)
    fetcher = range_fetcher(client, bucket, key, info)
    cache: BaseCache
    if access == "stream":
        cache = StreamingCache(
            fetcher,
            info.size,
            chunk_size=chunk_size,
            concurrency=concurrency,
            max_fetch_bytes=max_fetch_bytes,
        )
    else:
        cache = ReadAheadCache(fetcher, info.size, max_fetch_bytes=max_fetch_bytes, head=head)
    return S3File(cache, name=f"s3://{bucket}/{key}", info=info)
