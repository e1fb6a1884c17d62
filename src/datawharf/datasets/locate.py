"""The one road from a datasource to an object to read: resolve, check, then probe or stream.

    resolve(session, settings, datasource, permissions=..., previous=None) -> Target   (no request)
    target_of(session, settings, resource)                                 -> Target   (no request)
    probe(settings, target)          -> a context manager: the object, one ranged GET (previews, guesses)
    stream_locator(session_factory, settings) -> Locator: Resource -> LocatedObject (HEAD; publish)

Every caller (the API's unsaved and saved previews and guesses, resource create and update, the
wizard, the CLI, the publish) goes through ``_target``, which parses the URL against the connection's and
refuses, before any client exists, a location outside the connection (``url_outside_connection``, see
``connections/scope.py``): a connection's credentials and headers never leave for another endpoint,
bucket or prefix, whatever URL was given or stored before.

Choosing a saved connection (``resolve``) is allowed only where ``can_reuse`` says so; a resource keeps
the connection it already has (its owner's choice) as long as its URL is unchanged.
"""

from __future__ import annotations

import itertools
import json
import posixpath
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from datawharf.connections import service as connection_service
from datawharf.connections.crypto import decrypt
from datawharf.connections.scope import REUSE_PERMISSION, can_reuse, check_in_scope
from datawharf.datasets.datasource import AmazonS3Datasource, DatasourceHeader
from datawharf.errors import InvalidInput, PermissionDenied
from datawharf.extract._io import as_binary
from datawharf.s3.client import S3Client, client_for
from datawharf.s3.listing import KeyPattern, ListedObject, list_matching, list_pages, mark_wildcards
from datawharf.s3.locations import S3Location, parse_location
from datawharf.s3.reader import ObjectInfo, S3File, head_object, open_object, probe_object
from datawharf.settings import Settings
from datawharf.store.models import Connection
from datawharf.store.models.datasets import Resource

STREAM_CHUNK = 8 * 1024 * 1024
STREAM_CONCURRENCY = 4


@dataclass
class LocatedObject:
    """An object found (HEAD done) but not read yet: its identity, and how to stream it."""

    name: str  # the object's file name (key basename): extractors and guessing look at its extension
    etag: str | None
    size: int | None
    last_modified: datetime | None
    content_type: str | None
    open: Callable[[], BinaryIO]  # a sequential stream (overlapping ranged GETs pinned to ``etag``)
    open_preview: Callable[[], BinaryIO] | None = None  # small random-access reads, for previews
    close: Callable[[], None] = lambda: None

    def identity(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "size": self.size,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }


@dataclass
class LocatedSet:
    """The objects of a prefix or glob, for a publish: listed lazily (page by page) as they are read.

    ``objects()`` yields each matching object in key order, its identity from the listing (no HEAD),
    its ``name`` the object's key (what ``extract_filename`` gives each record).
    """

    pattern: KeyPattern
    objects: Callable[[], Iterator[LocatedObject]]
    close: Callable[[], None] = lambda: None
    # One object of the set by its key, ETag and size (as an earlier listing gave them), without listing:
    # what a part of a publish spread over workers reads (``parts.py``).
    object_at: Callable[[str, str | None, int | None], LocatedObject] | None = None


Locator = Callable[[Resource], LocatedObject | LocatedSet]


@dataclass(frozen=True)
class Target:
    """A datasource resolved and checked: the object's location, who signs, the datasource's headers.

    ``connection`` is a saved connection, an inline one (not added to any session: the save path adds
    it, a preview never does), or ``None`` for an anonymous read.
    """

    location: S3Location
    connection: Connection | None
    headers: list[tuple[str, str]] = field(repr=False)  # values are secrets
    pattern: KeyPattern | None = None  # a prefix or glob: the objects to list (``location`` is the bucket)


# --- resolving ---------------------------------------------------------------------------------------


def resource_headers(settings: Settings, resource: Resource) -> list[tuple[str, str]]:
    """The datasource's headers, decrypted only to sign requests (stored as ``[[name, value], ...]``)."""
    if not resource.headers_secret:
        return []
    return [(name, value) for name, value in json.loads(decrypt(settings, resource.headers_secret))]


def _headers(
    settings: Settings, given: list[DatasourceHeader], previous: Resource | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """``(name, value)`` pairs, and the names whose ``null`` value kept the previous resource's value."""
    stored = dict(resource_headers(settings, previous)) if previous is not None else {}
    pairs: list[tuple[str, str]] = []
    kept: list[str] = []
    for header in given:
        value = header.value
        if value is None and header.name in stored:
            value = stored[header.name]
            kept.append(header.name)
        if value is None:
            raise InvalidInput(
                f"The datasource header {header.name!r} needs a value (only a header already saved on the "
                "resource may leave it null).",
                error_code="invalid_datasource",
                detail={"datasource.headers": [f"{header.name}: a value"]},
            )
        pairs.append((header.name, value))
    return pairs, kept


def _same_place(previous: Resource, target: Target) -> bool:
    """Whether ``target`` reads from where ``previous`` did: same connection, endpoint and bucket."""
    connection = target.connection
    if previous.connection_uid != (connection.uid if connection is not None else None):
        return False
    try:
        before = parse_location(
            mark_wildcards(previous.datasource["url"]), base_url=connection.url if connection else None
        )
    except InvalidInput:
        return False
    now = target.location
    return (before.endpoint_url, before.bucket) == (now.endpoint_url, now.bucket)


def _chosen_connection(session: Session, uid: str, permissions: Collection[str], kept: bool) -> Connection:
    """A saved connection named by uid: kept as the resource has it, or newly chosen (``can_reuse``)."""
    if not kept and REUSE_PERMISSION not in permissions:
        # Before any lookup: a key that may not list connections learns nothing of their uids.
        raise PermissionDenied(
            f"This API key may not use saved connections: using one needs the '{REUSE_PERMISSION}' "
            "permission. Give the datasource an inline connection with your own credentials, read a "
            "public object without a connection, or ask an administrator.",
            error_code="connection_not_allowed",
            detail={"permission": REUSE_PERMISSION},
        )
    connection = connection_service.get_connection(session, uid)
    if not kept and not can_reuse(connection, permissions):
        raise InvalidInput(
            f"The connection {uid} is not reusable: it belongs to the one resource it was given with. "
            "Create a reusable connection (is_reusable: true) and refer to it by uid, or give the "
            "connection inline.",
            error_code="connection_not_reusable",
            detail={"uid": uid},
        )
    return connection


def resolve(
    session: Session,
    settings: Settings,
    datasource: AmazonS3Datasource,
    *,
    permissions: Collection[str],
    previous: Resource | None = None,
) -> Target:
    """The datasource's target (see module docstring); ``previous``: the resource being updated."""
    connection: Connection | None = None
    if datasource.inline is not None:
        connection = connection_service.build_unsaved(settings, datasource.inline)
        connection.is_reusable = False
    elif datasource.connection_uid is not None:
        uid = datasource.connection_uid
        kept = (
            previous is not None
            and previous.connection_uid == uid
            and (previous.datasource.get("url") == datasource.url or REUSE_PERMISSION in permissions)
        )
        connection = _chosen_connection(session, uid, permissions, kept)
    headers, kept_values = _headers(settings, datasource.headers, previous)
    target = _target(datasource.url, connection, headers)
    if kept_values and previous is not None and not _same_place(previous, target):
        # A stored header value was given for one place: it does not follow the datasource elsewhere.
        raise InvalidInput(
            f"The header {kept_values[0]} has no value, and the datasource now points at another "
            "connection, endpoint or bucket than the one its stored value was given for: give the value "
            "again.",
            error_code="missing_header_value",
            detail={"header": kept_values[0]},
        )
    return target


def target_of(session: Session, settings: Settings, resource: Resource) -> Target:
    """A saved resource's target, through the connection it holds (checked again: it may predate the
    scope rule, or the connection's URL may have changed since)."""
    connection = None
    if resource.connection_uid is not None:
        connection = connection_service.get_connection(session, resource.connection_uid)
    return _target(resource.datasource["url"], connection, resource_headers(settings, resource))


def _target(url: str, connection: Connection | None, headers: list[tuple[str, str]]) -> Target:
    """The checked target of one object, or of the objects of a prefix or glob (``s3/listing.py``)."""
    location = parse_location(
        mark_wildcards(url), base_url=connection.url if connection is not None else None
    )
    if connection is not None:
        check_in_scope(connection, location)  # a pattern's literal text is under the connection's prefix
    if location.is_object:
        pattern = KeyPattern.of(location.key)
        return Target(location, connection, headers, pattern)
    if not location.bucket:
        raise InvalidInput(
            f"{location.uri} is not an object: give the URL of a file (bucket/key), of a folder "
            "(bucket/prefix/) or a glob (bucket/exports/**/*.csv).",
            error_code="not_an_object",
        )
    return Target(location, connection, headers, KeyPattern.of(location.key))


# --- reading -----------------------------------------------------------------------------------------


def _merge(base: list[tuple[str, str]], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The connection's headers, overridden by name (case-insensitive) by the datasource's."""
    merged = {name.lower(): (name, value) for name, value in base}
    for name, value in extra:
        merged[name.lower()] = (name, value)
    return list(merged.values())


def client_of(settings: Settings, target: Target) -> S3Client:
    """A client for the target's location only (the caller closes it): the one place that signs."""
    connection = target.connection
    if connection is None:
        return client_for(settings, target.location, headers=target.headers)
    return client_for(
        settings,
        target.location,
        region=connection.region,
        credentials=connection_service.credentials_of(settings, connection),
        headers=_merge(connection_service.headers_of(settings, connection), target.headers),
    )


class Probe:
    """The object of a preview: found with one ranged GET, and every file opened on it (to add up the
    bytes they fetched)."""

    def __init__(self, located: LocatedObject, opened: list[S3File]) -> None:
        self.located, self._opened = located, opened

    @property
    def bytes_fetched(self) -> int:
        return sum(f.bytes_fetched for f in self._opened)


def no_match(target: Target) -> InvalidInput:
    pattern = target.pattern
    assert pattern is not None
    return InvalidInput(
        f"No object of s3://{target.location.bucket}/{pattern.text} was found: check the prefix or glob "
        "(a '*' stays within a folder, '**' spans folders), or upload the files first.",
        error_code="no_matching_object",
        detail={"url": f"s3://{target.location.bucket}/{pattern.text}"},
    )


@contextmanager
def probe(settings: Settings, target: Target) -> Iterator[Probe]:
    """The target's object for a preview or a guess: its info and first 64 KiB in one GET; closed on exit.

    A prefix or glob probes its first object (in key order): one listing page, then that object.
    """
    location = target.location
    client = client_of(settings, target)
    try:
        if target.pattern is not None:
            first = next(list_matching(client, location.bucket, target.pattern), None)
            if first is None:
                raise no_match(target)
            location = location.with_key(first.key)
        info, head = probe_object(client, location.bucket, location.key)
        opened: list[S3File] = []

        def open_preview() -> BinaryIO:
            f = open_object(client, location.bucket, location.key, access="preview", info=info, head=head)
            opened.append(f)
            return as_binary(f)

        yield Probe(
            LocatedObject(
                name=posixpath.basename(location.key),
                etag=info.etag,
                size=info.size,
                last_modified=info.last_modified,
                content_type=info.content_type,
                open=open_preview,  # a preview never streams the whole object
                open_preview=open_preview,
            ),
            opened,
        )
    finally:
        client.close()


PREVIEW_LISTING_PAGES = 10  # a glob whose first 10,000 listed keys match nothing: no preview


class SetProbe:
    """The objects of a prefix or glob, for a preview: the listing's first page (the first with a match,
    within ``PREVIEW_LISTING_PAGES``), and each object opened on demand through one client."""

    def __init__(
        self, client: S3Client, target: Target, first_page: list[ListedObject], listed: int, more: bool
    ) -> None:
        self._client, self._target = client, target
        self.first_page, self.listed, self.more = first_page, listed, more
        self._opened: list[S3File] = []

    @property
    def bytes_fetched(self) -> int:
        """Object bytes downloaded for the preview so far (the listing itself is not object data)."""
        return sum(f.bytes_fetched for f in self._opened)

    def located(self, listed: ListedObject) -> LocatedObject:
        """One of the objects, for small random-access reads (its first 64 KiB come in one GET)."""
        client, bucket = self._client, self._target.location.bucket
        info, head = probe_object(client, bucket, listed.key)

        def open_preview() -> BinaryIO:
            f = open_object(client, bucket, listed.key, access="preview", info=info, head=head)
            self._opened.append(f)
            return as_binary(f)

        return LocatedObject(
            name=listed.key,
            etag=info.etag,
            size=info.size,
            last_modified=info.last_modified,
            content_type=info.content_type,
            open=open_preview,
            open_preview=open_preview,
        )


@contextmanager
def probe_set(settings: Settings, target: Target) -> Iterator[SetProbe]:
    """A prefix or glob for a preview: its first listing page that matches; the client closed on exit."""
    pattern = target.pattern
    assert pattern is not None
    client = client_of(settings, target)
    try:
        listed = 0
        matched: list[ListedObject] = []
        pages = list_pages(client, target.location.bucket, pattern)
        for matched, count in itertools.islice(pages, PREVIEW_LISTING_PAGES):
            listed += count
            if matched:
                break
        if not matched:
            raise no_match(target)
        more = next(pages, None) is not None  # one more page asked for, never read beyond
        yield SetProbe(client, target, matched, listed, more)
    finally:
        client.close()


def _stream(settings: Settings, target: Target) -> LocatedObject:
    location = target.location
    client = client_of(settings, target)
    try:
        info = head_object(client, location.bucket, location.key)
    except BaseException:
        client.close()
        raise
    located = _streamed(client, location, info, posixpath.basename(location.key))
    located.close = client.close
    return located


def _streamed(client: S3Client, location: S3Location, info: ObjectInfo, name: str) -> LocatedObject:
    """An object whose identity is known, streamed through ``client`` (which the caller closes)."""

    def open_stream() -> Any:
        return open_object(
            client,
            location.bucket,
            location.key,
            access="stream",
            info=info,
            chunk_size=STREAM_CHUNK,
            concurrency=STREAM_CONCURRENCY,
        )

    def open_preview() -> Any:
        return open_object(client, location.bucket, location.key, access="preview", info=info)

    return LocatedObject(
        name=name,
        etag=info.etag,
        size=info.size,
        last_modified=info.last_modified,
        content_type=info.content_type,
        open=open_stream,
        open_preview=open_preview,
    )


def _stream_set(settings: Settings, target: Target) -> LocatedSet:
    """The objects of a prefix or glob, listed as the publish reads them (one client for all)."""
    pattern = target.pattern
    assert pattern is not None
    client = client_of(settings, target)
    bucket = target.location.bucket

    def objects() -> Iterator[LocatedObject]:
        found = False
        for listed in list_matching(client, bucket, pattern):
            found = True
            location = target.location.with_key(listed.key)
            if target.connection is not None:
                check_in_scope(target.connection, location)  # a listed key with a '..' segment
            yield _streamed(client, location, _info(listed), listed.key)
        if not found:
            raise no_match(target)

    def object_at(key: str, etag: str | None, size: int | None) -> LocatedObject:
        if not pattern.matches(key):
            raise no_match(target)  # a payload naming a key the datasource does not cover: never read it
        location = target.location.with_key(key)
        if target.connection is not None:
            check_in_scope(target.connection, location)
        info = ObjectInfo(size=size or 0, etag=etag or "", last_modified=None, content_type=None)
        return _streamed(client, location, info, key)

    return LocatedSet(pattern=pattern, objects=objects, close=client.close, object_at=object_at)


def _info(listed: ListedObject) -> ObjectInfo:
    return ObjectInfo(
        size=listed.size, etag=listed.etag, last_modified=listed.last_modified, content_type=None
    )


def stream_locator(session_factory: Callable[[], Any], settings: Settings) -> Locator:
    """Finds a saved resource's object for a publish (HEAD, then overlapping ranged GETs)."""

    def locate(resource: Resource) -> LocatedObject | LocatedSet:
        with session_factory() as session:  # the client is made while the connection row is loaded
            target = target_of(session, settings, resource)
            return _stream(settings, target) if target.pattern is None else _stream_set(settings, target)

    return locate
