"""What a harvested key becomes: its dataset's source URL, ``dataset_id`` and title (no I/O).

Templates name parts of the key relative to the harvester's folder (the literal text of its URL up to
the last ``/`` before any wildcard): ``{path}`` (``2026/12/stations`` for ``2026/12/stations.csv.gz``),
``{name}`` (``stations.csv.gz``), ``{stem}`` (``stations``) and ``{folder}`` (``2026/12``; in folder mode
the folder itself). Substitution is a plain regex over ``{word}``: never ``str.format``, whose attribute
lookups a template could abuse. The ``dataset_id`` is the slug of the filled template; the title its
readable form (``-``/``_`` as spaces, ``/`` as `` / ``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote

from datawharf.datasets.identifiers import slugify
from datawharf.errors import InvalidInput
from datawharf.s3.listing import mark_wildcards

PLACEHOLDERS = ("path", "name", "stem", "folder")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_MARKS = "\ue000\ue001\ue002\ue003"  # s3/listing.py's placeholders for raw wildcards
_SEPARATORS = re.compile(r"[-_\s]+")


def check_template(template: str, field: str) -> str:
    unknown = sorted({name for name in _PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})
    if unknown or not template.strip():
        raise InvalidInput(
            f"The {field} {template[:200]!r} uses unknown placeholders ({', '.join(unknown) or 'none'}): "
            f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)} and plain text, e.g. 'stations-{{stem}}'.",
            error_code="invalid_harvester",
            detail={field: [f"known placeholders: {', '.join(PLACEHOLDERS)}"]},
        )
    return template


def url_folder(url: str) -> str:
    """The harvester URL's text up to the last ``/`` before its first wildcard (the whole URL for a
    prefix): the base every harvested key's URL is written on."""
    marked = mark_wildcards(url)
    cut = min((marked.index(mark) for mark in _MARKS if mark in marked), default=len(url))
    return url[: url.rfind("/", 0, cut) + 1]


def key_folder(listing_prefix: str) -> str:
    """The listing prefix's counterpart of ``url_folder``: the key text the URL folder stands for."""
    return listing_prefix[: listing_prefix.rfind("/") + 1]


@dataclass(frozen=True)
class Named:
    source_key: str  # the object's key, or the folder's prefix (ends with "/")
    url: str  # the dataset's datasource URL, in the harvester URL's own form
    dataset_id: str
    title: str


def _stem(name: str) -> str:
    stem = name.split(".", 1)[0] if not name.startswith(".") else name
    return stem or name


def readable(text: str) -> str:
    parts = [_SEPARATORS.sub(" ", part).strip() for part in text.split("/")]
    shown = " / ".join(part for part in parts if part)
    return shown[:1].upper() + shown[1:]


def fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def name_key(
    source_key: str,
    *,
    base_key: str,
    base_url: str,
    dataset_id_template: str,
    title_template: str,
) -> Named:
    """The dataset a key becomes. ``base_key``/``base_url``: the harvester's folder (``key_folder`` and
    ``url_folder``); the key's rest is percent-encoded onto the URL, so a ``*`` in a key stays literal."""
    rest = source_key[len(base_key) :]
    if source_key.endswith("/"):  # a folder
        relative = rest.rstrip("/")
        name = posixpath.basename(relative)
        values = {"path": relative, "name": name, "stem": name, "folder": relative}
    else:
        name = posixpath.basename(rest)
        folder = posixpath.dirname(rest)
        stem = _stem(name)
        path = posixpath.join(folder, stem) if folder else stem
        values = {"path": path, "name": name, "stem": stem, "folder": folder}
    title = readable(fill(title_template, values)) or name or source_key
    dataset_id = slugify(fill(dataset_id_template, values)) or "dataset"
    return Named(
        source_key=source_key,
        url=base_url + quote(rest, safe="/"),
        dataset_id=dataset_id,
        title=title[:500],
    )


def folder_of(key: str, base_key: str) -> str | None:
    """The first-level folder (``base/sub/``) ``key`` lies in, or ``None`` for an object directly under
    the base (folder mode skips those)."""
    rest = key[len(base_key) :]
    head, slash, _tail = rest.partition("/")
    return base_key + head + "/" if slash and head else None
