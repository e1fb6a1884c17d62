"""Dataset metadata in the reference shape: ``{template: {field: {"value": ...}}}``, checked field by field
against the templates of ``metadata_templates.py``.

Two copies live on a dataset: ``metadata`` (the draft every edit changes) and ``published_metadata`` (what
the Explore API shows), copied from the draft by ``publish_metadata`` and by every publish, as Opendatasoft
does: an edit is visible to readers only once published.

The stored form keeps set fields only (``{"value": ...}``, with ``override_remote_value`` when a client sent
it); a null value unsets the field. ``public_metadata`` is what the API shows: the reference's
``DatasetMetadata``, where an unset field is absent (its ``value`` is never null), the always-active
``default`` and ``internal`` templates are always there, and so are the required ``title``, ``modified``
and ``language``; a template's own answers show each alias of
``ALIASES`` beside its fields (``template_shown``).
``remote_value`` is never shown: the reference shows it only for datasets linked to a remote one, and
datawharf has no such datasets.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from datawharf.datasets.metadata_templates import (
    ALIASES,
    DISPLAY_LANGUAGES,
    FACET_SORTS,
    LANGUAGES,
    TEMPLATES,
    MetadataField,
)
from datawharf.errors import InvalidInput, NotFound


def _invalid(path: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid metadata.{path}: {why}.", error_code="invalid_metadata", detail={f"metadata.{path}": [why]}
    )


def _unknown_template(template: str, error: type[InvalidInput] | type[NotFound]) -> InvalidInput | NotFound:
    known = ", ".join(TEMPLATES)
    return error(
        f"There is no metadata template {template!r}. The templates are: {known} "
        "(GET /api/automation/v1.0/metadata/templates/ lists them with their fields).",
        error_code="unknown_metadata_template",
        detail={"template": template, "templates": list(TEMPLATES)},
    )


def _unknown_field(
    template: str, name: str, error: type[InvalidInput] | type[NotFound]
) -> InvalidInput | NotFound:
    return error(
        f"The metadata template {template!r} has no field {name!r}. Its fields are listed by "
        f"GET /api/automation/v1.0/metadata/templates/{template}/fields/.",
        error_code="unknown_metadata_field",
        detail={"template": template, "field": name, "fields": [f.name for f in TEMPLATES[template].fields]},
    )


def template_field(template: str, name: str | None = None) -> MetadataField | None:
    """The field of a path (``.../metadata/{template}/{name}/``): 404 ``unknown_metadata_template`` /
    ``unknown_metadata_field`` when the reference's templates have no such thing."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise _unknown_template(template, NotFound)
    if name is None:
        return None
    field = spec.field(name)
    if field is None:
        raise _unknown_field(template, name, NotFound)
    return field


def _check_facets(path: str, value: Any) -> None:
    """The reference's facet list: objects with a ``field_name``, a known ``facetsort``, boolean flags."""
    if not isinstance(value, list):
        raise _invalid(path, "must be a list of facets")
    for number, facet in enumerate(value):
        if not (isinstance(facet, dict) and isinstance(facet.get("field_name"), str) and facet["field_name"]):
            raise _invalid(f"{path}[{number}]", 'must be an object with a "field_name"')
        if "facetsort" in facet and facet["facetsort"] not in FACET_SORTS:
            raise _invalid(f"{path}[{number}].facetsort", f"must be one of {', '.join(FACET_SORTS)}")
        for flag in ("disjunctive", "timerange_filter"):
            if flag in facet and not isinstance(facet[flag], bool):
                raise _invalid(f"{path}[{number}].{flag}", "must be a boolean")


def _check_value(field: MetadataField, path: str, value: Any) -> Any:
    """The value to store: checked against the field's kind; None when unset (null, or a blank text)."""
    kind = field.kind
    if value is None:
        return None
    if kind in ("text", "html", "language", "datetime") and not isinstance(value, str):
        why = "must be an ISO 8601 date-time string" if kind == "datetime" else "must be a string"
        raise _invalid(path, why)
    if kind in ("text", "html") and not value.strip():
        if field.name == "title":
            raise _invalid(path, "must not be empty")
        return None  # a form's empty box: unset (the reference's strings are never empty)
    if kind == "language" and value not in LANGUAGES:
        raise _invalid(path, f"must be one of {', '.join(LANGUAGES)}")
    if kind == "list" and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise _invalid(path, "must be a list of non-empty strings")
    if kind == "boolean" and not isinstance(value, bool):
        raise _invalid(path, "must be a boolean")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise _invalid(path, "must be an integer")
    if kind == "double" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _invalid(path, "must be a number")
    if kind == "facets":
        _check_facets(path, value)
    if kind == "field_languages" and not (
        isinstance(value, dict)
        and all(
            isinstance(langs, list) and langs and all(lang in DISPLAY_LANGUAGES for lang in langs)
            for langs in value.values()
        )
    ):
        raise _invalid(path, f"must map field names to non-empty lists of {', '.join(DISPLAY_LANGUAGES)}")
    if kind == "field_boosts" and not (
        isinstance(value, dict)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value.values())
    ):
        raise _invalid(path, "must map field names to integers of 0 or more")
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(path, "must be an ISO 8601 date-time string") from None
        return iso_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))  # no zone: UTC
    if kind == "list" and not value:
        return None  # an empty list is no keyword at all
    return value


def clean_entry(template: str, name: str, entry: Any) -> dict[str, Any] | None:
    """The stored form of one ``DatasetMetadataValue`` (None: unset). ``remote_value`` is read-only and
    dropped; a lone string is taken as a one-item list for ``default.theme_id`` (huwise-utils-py sends
    one theme id there)."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise _unknown_template(template, InvalidInput)
    field = spec.field(name)
    if field is None:
        raise _unknown_field(template, name, InvalidInput)
    path = f"{template}.{name}"
    if not isinstance(entry, dict) or "value" not in entry:
        raise _invalid(path, 'must be an object with a "value"')
    value = entry["value"]
    if (template, name) == ("default", "theme_id") and isinstance(value, str):
        value = [value]
    value = _check_value(field, f"{path}.value", value)
    if value is None:
        return None
    clean: dict[str, Any] = {"value": value}
    override = entry.get("override_remote_value")
    if override is not None:
        if not isinstance(override, bool):
            raise _invalid(f"{path}.override_remote_value", "must be a boolean")
        clean["override_remote_value"] = override
    return clean


def _clean_template(template: str, fields: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(fields, dict):
        raise _invalid(template, "must be an object of fields")
    cleaned = {name: clean_entry(template, name, entry) for name, entry in fields.items()}
    return {name: entry for name, entry in cleaned.items() if entry is not None}


def _store_aliases(metadata: dict[str, dict[str, Any]], given: dict[str, Any]) -> None:
    """Move each alias given in ``given`` (raw templates) to the field it stands for; when both are
    given, the field itself wins."""
    for (template, name), (target, target_name) in ALIASES.items():
        fields = metadata.get(template, {})
        entry = fields.pop(name, None)
        if target_name in given.get(target, {}):
            continue
        if entry is not None:
            metadata.setdefault(target, {})[target_name] = entry
        elif name in given.get(template, {}):  # sent as null: unset the field it stands for
            metadata.get(target, {}).pop(target_name, None)


def normalize_metadata(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The stored form of a whole ``DatasetMetadata`` (the templates it omits are empty)."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise _invalid("", "must be an object of templates")
    unknown = [name for name in raw if name not in TEMPLATES]
    if unknown:
        raise _unknown_template(unknown[0], InvalidInput)
    result = {template: _clean_template(template, fields) for template, fields in raw.items()}
    _store_aliases(result, raw)
    result.setdefault("default", {})
    return result


def with_template(metadata: dict[str, Any], template: str, fields: Any) -> dict[str, Any]:
    """A copy of ``metadata`` whose ``template`` is replaced by ``fields`` (the ones omitted are unset)."""
    template_field(template)
    result = copy.deepcopy(metadata)
    result[template] = _clean_template(template, fields)
    for (alias_template, _name), (target, target_name) in ALIASES.items():
        if alias_template == template and target != template:
            result.get(target, {}).pop(target_name, None)  # the alias was omitted: so is its field
    _store_aliases(result, {template: fields})
    return result


def with_field(metadata: dict[str, Any], template: str, name: str, entry: Any | None) -> dict[str, Any]:
    """A copy of ``metadata`` with one field set (``entry``) or unset (None)."""
    template_field(template, name)
    stored_template, stored_name = ALIASES.get((template, name), (template, name))
    clean = clean_entry(template, name, entry) if entry is not None else None
    result = copy.deepcopy(metadata)
    fields = result.setdefault(stored_template, {})
    if clean is None:
        fields.pop(stored_name, None)
    else:
        fields[stored_name] = clean
    return result


def title_of(metadata: dict[str, Any]) -> str | None:
    return metadata.get("default", {}).get("title", {}).get("value")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown_metadata(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stored metadata as it is shown: set fields only."""
    return {
        template: {name: dict(entry) for name, entry in fields.items() if entry.get("value") is not None}
        for template, fields in metadata.items()
        if isinstance(fields, dict)
    }


def template_shown(shown: dict[str, dict[str, Any]], template: str) -> dict[str, Any]:
    """One template of shown metadata, with its aliases (``default.license_id``...) beside its fields.

    The aliases appear in a template's own answers only, not in the whole metadata, where the field they
    stand for is already shown: a client that reads the whole, changes ``internal.license_id`` and sends it
    back must not see the unchanged alias win."""
    fields = dict(shown.get(template, {}))
    for (alias_template, name), (target, target_name) in ALIASES.items():
        entry = shown.get(target, {}).get(target_name)
        if alias_template == template and entry is not None:
            fields[name] = dict(entry)
    return fields


def public_metadata(
    metadata: dict[str, Any], *, title: str, modified: datetime, language: str
) -> dict[str, Any]:
    """The reference ``DatasetMetadata`` of stored metadata: unset fields left out, and the required
    ``default.title`` / ``modified`` / ``language`` given the fallbacks when unset."""
    shown = shown_metadata(metadata)
    shown.setdefault("internal", {})  # always there, as on Opendatasoft: ods-utils-py reads it unguarded
    default = shown.setdefault("default", {})
    default.setdefault("title", {"value": title})
    default.setdefault("modified", {"value": iso_utc(modified)})
    default.setdefault("language", {"value": language})
    return shown


def touch_modified(metadata: dict[str, Any], when: datetime, *, on: str = "data") -> dict[str, Any]:
    """A copy with ``default.modified`` set to ``when`` on a change of the data (``on="data"``, unless
    ``modified_updates_on_data_change`` is false) or of the metadata (``on="metadata"``, only when
    ``modified_updates_on_metadata_change`` is true)."""
    default = dict(metadata.get("default", {}))
    switch = default.get(f"modified_updates_on_{on}_change", {}).get("value", on == "data")
    if switch is not True:
        return metadata
    default["modified"] = {"value": iso_utc(when)}
    return {**metadata, "default": default}
