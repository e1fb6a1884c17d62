"""Dataset metadata in the reference shape: ``{template: {field: {"value": ...}}}``.

The fields of the ``default`` and ``internal`` templates are checked against the reference's types (a
string is never empty: a blank one is unset); other templates are kept as given, so a client that sends
more than we know loses nothing.

The stored form keeps unset fields as ``{"value": None}``; ``public_metadata`` is what the API shows: the
reference's ``DatasetMetadata``, where an unset field is absent (its ``value`` is never null) and the
required ``title``, ``modified`` and ``language`` are always there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from datawharf.errors import InvalidInput
from datawharf.settings import Language

LANGUAGES: tuple[str, ...] = get_args(Language)

DEFAULT_FIELDS = ("title", "description", "keyword", "modified")


def _invalid(path: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid metadata.{path}: {why}.", error_code="invalid_metadata", detail={f"metadata.{path}": [why]}
    )


# The reference's type of each field of the templates it defines (DatasetMetadataDefault, ...Internal);
# "license" is datawharf's own. Fields of other templates, and unknown fields, are kept as given.
_KINDS: dict[str, dict[str, str]] = {
    "default": {
        "title": "text",
        "description": "text",
        "keyword": "texts",
        "modified": "datetime",
        "modified_updates_on_metadata_change": "boolean",
        "modified_updates_on_data_change": "boolean",
        "geographic_reference": "texts",
        "geographic_reference_auto": "boolean",
        "language": "language",
        "timezone": "text",
        "publisher": "text",
        "references": "text",
        "attributions": "texts",
        "license": "text",
    },
    "internal": {"license_id": "text", "theme_id": "texts", "draft": "boolean"},
}


def _check_value(template: str, name: str, value: Any) -> Any:
    """The value to store for ``template.name``: checked against the reference's type; None if unset."""
    kind = _KINDS.get(template, {}).get(name)
    if value is None or kind is None:
        return value
    path = f"{template}.{name}.value"
    if kind in ("text", "language", "datetime") and not isinstance(value, str):
        why = "must be an ISO 8601 date-time string" if kind == "datetime" else "must be a string"
        raise _invalid(path, why)
    if kind == "text" and name != "title" and not value.strip():
        return None  # a form's empty box: unset (the reference's strings are never empty)
    if kind == "language" and value not in LANGUAGES:
        raise _invalid(path, f"must be one of {', '.join(LANGUAGES)}")
    if kind == "texts" and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise _invalid(path, "must be a list of non-empty strings")
    if kind == "boolean" and not isinstance(value, bool):
        raise _invalid(path, "must be a boolean")
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(path, "must be an ISO 8601 date-time string") from None
        return iso_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))  # no zone: UTC
    return value


def normalize_metadata(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The stored form: every default field present (``{"value": None}`` when unset)."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise _invalid("", "must be an object of templates")
    result: dict[str, Any] = {}
    for template, fields in raw.items():
        if not isinstance(fields, dict):
            raise _invalid(template, "must be an object of fields")
        clean: dict[str, Any] = {}
        for name, entry in fields.items():
            if not isinstance(entry, dict) or "value" not in entry:
                raise _invalid(f"{template}.{name}", 'must be an object with a "value"')
            value = _check_value(template, name, entry["value"])
            clean[name] = {"value": value}
        result[template] = clean
    default = result.setdefault("default", {})
    for name in DEFAULT_FIELDS:
        default.setdefault(name, {"value": None})
    if default["title"]["value"] is not None and not default["title"]["value"].strip():
        raise _invalid("default.title.value", "must not be empty")
    return result


def title_of(metadata: dict[str, Any]) -> str | None:
    return metadata.get("default", {}).get("title", {}).get("value")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_metadata(
    metadata: dict[str, Any], *, title: str, modified: datetime, language: str
) -> dict[str, Any]:
    """The reference ``DatasetMetadata`` of stored metadata: unset fields left out, and the required
    ``default.title`` / ``modified`` / ``language`` given the fallbacks when unset."""
    shown: dict[str, Any] = {
        template: {name: dict(entry) for name, entry in fields.items() if entry.get("value") is not None}
        for template, fields in metadata.items()
        if isinstance(fields, dict)
    }
    default = shown.setdefault("default", {})
    default.setdefault("title", {"value": title})
    default.setdefault("modified", {"value": iso_utc(modified)})
    default.setdefault("language", {"value": language})
    return shown


def touch_modified(metadata: dict[str, Any], when: datetime) -> dict[str, Any]:
    """A copy with ``default.modified`` set to ``when``, unless the user switched that off."""
    default = dict(metadata.get("default", {}))
    switch = default.get("modified_updates_on_data_change", {}).get("value", True)
    if switch is False:
        return metadata
    default["modified"] = {"value": iso_utc(when)}
    return {**metadata, "default": default}
