"""Many objects behind one URL: a prefix (``.../exports/``) or a glob (``exports/**/stations-*.csv.gz``).

A wildcard is a ``*``, ``?``, ``[`` or ``]`` written as such in the URL's path; the same character
percent-encoded (``%2A``, ``%3F``, ``%5B``, ``%5D``) is a literal part of a key, so any key stays
addressable. ``mark_wildcards`` swaps the raw wildcards for private-use placeholders before the URL is
parsed (``parse_location`` would otherwise take a ``?`` for a query string, and percent-decoding would
erase the difference); ``KeyPattern`` turns the parsed key back into a matcher.

Matching is wcmatch's (``**`` spans folders, ``*`` and ``?`` stay within one, ``[...]`` a class, as in
Airbyte's and Fivetran's S3 sources); the listing is botocore's ListObjectsV2 paginator, consumed page
by page so that a bucket of 100,000 objects is never held in memory. The literal text before the first
wildcard is the listing prefix: S3 filters by it, the matcher does the rest. Every ``ListedObject``
carries the key, ETag and size a run needs to record (and, later, to tell new and changed objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from botocore import exceptions as bx
from wcmatch import glob

from datawharf.s3.client import S3Client
from datawharf.s3.errors import translate

_PLACEHOLDERS = {"*": "\ue000", "?": "\ue001", "[": "\ue002", "]": "\ue003"}
_WILDCARDS = {mark: char for char, mark in _PLACEHOLDERS.items()}
_TO_MARKS = str.maketrans("*?[]", "".join(_PLACEHOLDERS.values()))
_FROM_MARKS = str.maketrans("".join(_PLACEHOLDERS.values()), "*?[]")
_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.FORCEUNIX
LIST_PAGE_SIZE = 1000  # ListObjectsV2's own maximum


def mark_wildcards(url: str) -> str:
    """``url`` with the wildcards of its path (never of its host: ``[::1]``) swapped for placeholders."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.translate(_TO_MARKS)
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host}{slash}{path.translate(_TO_MARKS)}"


def shown(key: str) -> str:
    """A marked key as the user wrote it (for messages)."""
    return key.translate(_FROM_MARKS)


@dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str  # as S3 sends it, quotes included: what If-Match wants back
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class KeyPattern:
    """The objects a prefix or glob names, in one bucket; ``key`` is the parsed (marked) key."""

    key: str

    @staticmethod
    def of(key: str) -> KeyPattern | None:
        """The pattern a parsed key names, or ``None`` for the key of one object."""
        if key == "" or key.endswith("/") or any(mark in key for mark in _WILDCARDS):
            return KeyPattern(key)
        return None

    @property
    def text(self) -> str:
        return shown(self.key)

    @property
    def listing_prefix(self) -> str:
        """The literal text before the first wildcard: what S3 filters the listing by."""
        cut = min((self.key.index(mark) for mark in _WILDCARDS if mark in self.key), default=len(self.key))
        return self.key[:cut]

    @cached_property
    def _matcher(self) -> glob.WcMatcher:
        pattern = _wcmatch_pattern(self.key)
        if self.key == "" or self.key.endswith("/"):
            pattern += "**"  # a prefix: every object under it, at any depth
        return glob.compile(pattern, flags=_FLAGS)

    def matches(self, key: str) -> bool:
        """Whether the object ``key`` is one of the pattern's (folder markers ``a/b/`` never are)."""
        return not key.endswith("/") and bool(self._matcher.match(key))


def _wcmatch_pattern(key: str) -> str:
    """The marked key in wcmatch's syntax: wildcards as such, other characters escaped (inside a
    ``[...]`` class they are taken as written, so that ``[0-9]`` stays a range)."""
    out: list[str] = []
    in_class = False
    for char in key:
        wildcard = _WILDCARDS.get(char)
        if wildcard is not None:
            in_class = wildcard == "[" or (in_class and wildcard != "]")
            out.append(wildcard)
        else:
            out.append(char if in_class and char != "\\" else glob.escape(char))
    return "".join(out)


def list_pages(
    client: S3Client, bucket: str, pattern: KeyPattern, *, page_size: int = LIST_PAGE_SIZE
) -> Iterator[tuple[list[ListedObject], int]]:
    """``(the page's matching objects, keys the page listed)``, page after page, in key order.

    Lazy: the next page is asked for only when the caller wants it, so a preview stops after one.
    """
    where = client.where(bucket, pattern.listing_prefix)
    pages = client.raw.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=pattern.listing_prefix, PaginationConfig={"PageSize": page_size}
    )
    try:
        for page in pages:
            contents = page.get("Contents", [])
            matched = [
                ListedObject(
                    key=item["Key"],
                    etag=str(item.get("ETag", "")),
                    size=int(item.get("Size", 0)),
                    last_modified=item.get("LastModified"),
                )
                for item in contents
                if pattern.matches(item["Key"])
            ]
            yield matched, len(contents)
    except (bx.ClientError, bx.BotoCoreError) as exc:
        raise translate(exc, where) from exc


def list_matching(client: S3Client, bucket: str, pattern: KeyPattern) -> Iterator[ListedObject]:
    """Every object of the pattern, streamed from the listing's pages."""
    for matched, _listed in list_pages(client, bucket, pattern):
        yield from matched
