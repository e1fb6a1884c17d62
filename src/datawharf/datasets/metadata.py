"""Dataset metadata in the reference shape: ``{template: {field: {"value": ...}}}``.

Only the ``default`` template is checked field by field (title, description, keyword, modified, and the
two ``modified_updates_on_*`` switches); other templates are kept as given, so a client that sends more
than we know loses nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from datawharf.errors import InvalidInput

DEFAULT_FIELDS = ("title", "description", "keyword", "modified")


def _invalid(path: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid metadata.{path}: {why}.", error_code="invalid_metadata", detail={f"metadata.{path}": [why]}
    )


def _check_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ("title", "description", "language", "license", "publisher") and not isinstance(value, str):
        raise _invalid(f"default.{name}.value", "must be a string")
    bad_keywords = not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)
    if name == "keyword" and bad_keywords:
        raise _invalid("default.keyword.value", "must be a list of non-empty strings")
    if name == "modified":
        if not isinstance(value, str):
            raise _invalid("default.modified.value", "must be an ISO 8601 date-time string")
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid("default.modified.value", "must be an ISO 8601 date-time string") from None
    if name.startswith("modified_updates_on_") and not isinstance(value, bool):
        raise _invalid(f"default.{name}.value", "must be a boolean")
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
            value = _check_value(name, entry["value"]) if template == "default" else entry["value"]
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


def touch_modified(metadata: dict[str, Any], when: datetime) -> dict[str, Any]:
    """A copy with ``default.modified`` set to ``when``, unless the user switched that off."""
    default = dict(metadata.get("default", {}))
    switch = default.get("modified_updates_on_data_change", {}).get("value", True)
    if switch is False:
        return metadata
    default["modified"] = {"value": when.isoformat().replace("+00:00", "Z")}
    return {**metadata, "default": default}
