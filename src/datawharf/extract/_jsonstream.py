"""Streaming JSON: the records under a dot path, one at a time, whatever the size of the document.

Built on ijson's ``basic_parse`` (the C yajl2 backend): events without prefixes. ijson's own ``items``
and ``parse`` build a prefix string per event, which for a document nested 100,000 deep is quadratic
(gigabytes); here the path is a short stack of keys and depth is checked on every opening bracket, so
such a document fails after a few hundred bytes. Only one record is built at a time (ijson's
``ObjectBuilder``), and reading stops as soon as the caller stops asking: a preview of a 5 GB array
parses the first few kilobytes.

Error codes: ``json_too_deep``, ``json_invalid``, ``json_truncated``, ``json_record_too_large``,
``json_root_not_found``, ``empty_file``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import ijson

from datawharf.errors import DatawharfError, ExtractError

Event = tuple[str, Any]

MAX_JSON_DEPTH = 256
# One record built in memory may not take more parse events than this (a 1M-vertex polygon is ~4M).
MAX_RECORD_EVENTS = 8_000_000
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")
_BOM = b"\xef\xbb\xbf"


class _NoBom:
    """Drops a UTF-8 byte order mark, which yajl rejects, and remembers whether any byte came."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._first = True
        self.seen_content = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._first and size != 0:  # ijson probes with read(0) for bytes vs text
            self._first = False
            while data and len(data) < 3 and _BOM.startswith(data):
                more = self._stream.read(size)
                if not more:
                    break
                data += more
            if data.startswith(_BOM):
                data = data[3:] or self._stream.read(size)
        if data.strip():
            self.seen_content = True
        return data


def parse_path(path: str | None) -> list[str]:
    """``"data.items"`` -> ``["data", "items"]``; empty for the document root (``""``, ``"$"``)."""
    text = (path or "").strip()
    if text.startswith("$"):
        text = text[1:]
    return [part for part in text.split(".") if part]


def events(stream: BinaryIO, *, buf_size: int = 64 * 1024) -> Iterator[Event]:
    """ijson's basic events, its errors translated once."""
    source = _NoBom(stream)
    try:
        yield from ijson.basic_parse(source, buf_size=buf_size, use_float=True)
    except DatawharfError:
        raise
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc)[:200]
        if not source.seen_content:
            raise ExtractError(
                "The file is empty: there is nothing to read.", error_code="empty_file"
            ) from exc
        if "premature EOF" in reason or "Incomplete" in reason:
            raise ExtractError(
                "The JSON ends in the middle of a value: the file is cut short; upload it complete.",
                error_code="json_truncated",
            ) from exc
        raise ExtractError(
            f"The file is not valid JSON ({reason}): check that it is JSON, or choose another extractor.",
            error_code="json_invalid",
        ) from exc


def _too_deep() -> ExtractError:
    return ExtractError(
        f"The JSON nests objects or arrays more than {MAX_JSON_DEPTH} levels deep: "
        "this is not a table datawharf can read.",
        error_code="json_too_deep",
        detail={"max_depth": MAX_JSON_DEPTH},
    )


def build_value(event: str, value: Any, stream: Iterator[Event], depth: int) -> Any:
    """The whole value that starts with ``(event, value)``, at nesting ``depth`` (0 = document root)."""
    if event not in _STARTS:
        return value
    if depth >= MAX_JSON_DEPTH:
        raise _too_deep()
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    level = 1
    for count, (event, value) in enumerate(stream):
        builder.event(event, value)
        if event in _STARTS:
            level += 1
            if depth + level > MAX_JSON_DEPTH:
                raise _too_deep()
        elif event in _ENDS:
            level -= 1
            if level == 0:
                return builder.value
        if count > MAX_RECORD_EVENTS:
            raise ExtractError(
                f"One JSON record holds more than {MAX_RECORD_EVENTS} values: json_root probably points "
                "at the whole document instead of the array of records; set it to that array.",
                error_code="json_record_too_large",
            )
    return builder.value  # the document ended inside the value: ijson raises before this


def array_items(stream: Iterator[Event], depth: int) -> Iterator[Any]:
    """The items of the array whose ``start_array`` was just read, at nesting ``depth``."""
    for event, value in stream:
        if event == "end_array":
            return
        yield build_value(event, value, stream, depth)


class JsonRecords:
    """The records at ``root`` (a path of object keys) in a document read as a stream.

    The value at ``root`` gives its items when it is an array, itself as the only record otherwise.
    Arrays met on the way at one of the ``capture`` paths are kept (small side tables read before
    the records, such as Socrata's column list in ``meta.view.columns``).
    """

    def __init__(
        self,
        stream: BinaryIO,
        root: Sequence[str],
        *,
        capture: Sequence[str] | None = None,
        buf_size: int = 64 * 1024,
    ) -> None:
        self._events = events(stream, buf_size=buf_size)
        self._root = list(root)
        self._capture = list(capture) if capture is not None else None
        self.captured: list[Any] = []
        self.root_is_array: bool | None = None

    def __iter__(self) -> Iterator[Any]:
        stack: list[str | None] = []
        stream = self._events
        for event, value in stream:
            if event == "map_key":
                stack[-1] = value
                continue
            if event in _ENDS:
                stack.pop()
                continue
            if stack == self._root:
                if event == "start_array":
                    self.root_is_array = True
                    yield from array_items(stream, len(stack) + 1)
                else:
                    self.root_is_array = False
                    yield build_value(event, value, stream, len(stack))
                return
            if event == "start_array" and stack == self._capture:
                self.captured = list(array_items(stream, len(stack) + 1))
                continue
            if event in _STARTS:
                if len(stack) >= MAX_JSON_DEPTH:
                    raise _too_deep()
                stack.append(None)
        raise ExtractError(
            f"The JSON has no value at json_root {'.'.join(self._root)!r}: "
            "set json_root to the dot path of the array of records (empty for the document itself).",
            error_code="json_root_not_found",
            detail={"json_root": ".".join(self._root)},
        )


def survey(head: bytes, *, max_events: int = 200_000) -> dict[tuple[str, ...], dict[str, int]]:
    """Every array reached through object keys in ``head`` (possibly cut): path -> item kinds counted.

    Arrays inside arrays are not candidates (a json_root is a path of keys). Stops quietly at the end
    of a cut head; a document that is invalid from the start raises like ``events``.
    """
    import io

    found: dict[tuple[str, ...], dict[str, int]] = {}
    # Each frame: (key or None, kind, keyed path of this container or None when under an array)
    stack: list[list[Any]] = []
    seen = 0
    try:
        for event, value in events(io.BytesIO(head), buf_size=16 * 1024):
            seen += 1
            if seen > max_events:
                break
            if event == "map_key":
                stack[-1][0] = value
                continue
            if event in _ENDS:
                stack.pop()
                continue
            parent = stack[-1] if stack else None
            if parent is not None and parent[1] == "array" and parent[2] is not None:
                kinds = found[parent[2]]
                kind = {"start_map": "map", "start_array": "array"}.get(event, "scalar")
                kinds[kind] = kinds.get(kind, 0) + 1
            if event in _STARTS:
                if len(stack) >= MAX_JSON_DEPTH:
                    raise _too_deep()
                if parent is None:
                    path: tuple[str, ...] | None = ()
                elif parent[1] == "map" and parent[2] is not None:
                    path = (*parent[2], parent[0])
                else:
                    path = None
                kind = "map" if event == "start_map" else "array"
                if kind == "array" and path is not None:
                    found.setdefault(path, {})
                stack.append([None, kind, path])
    except ExtractError as exc:
        if exc.error_code != "json_truncated":
            raise
    return found
