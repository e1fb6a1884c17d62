"""Helpers for answers in the reference's shapes, shared by the model families of every domain.

The reference declares most properties as plain strings, arrays or objects, not nullable: an unset one is
left out of the answer, never sent as ``null``. ``unset_omitted()`` declares such a property: ``None`` in
Python, absent from the JSON, and shown in ``/openapi.json`` with its real type (no ``null`` variant).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def _is_none(value: Any) -> bool:
    return value is None


def _without_null(schema: dict[str, Any]) -> None:
    variants = [variant for variant in schema.pop("anyOf", []) if variant.get("type") != "null"]
    if len(variants) == 1:
        schema.update(variants[0])
    elif variants:
        schema["anyOf"] = variants
    schema.pop("default", None)


def unset_omitted(description: str | None = None, **kwargs: Any) -> Any:
    """A ``Field`` left out of the answer when ``None`` (the reference does not declare it nullable)."""
    return Field(
        default=None, exclude_if=_is_none, json_schema_extra=_without_null, description=description, **kwargs
    )
