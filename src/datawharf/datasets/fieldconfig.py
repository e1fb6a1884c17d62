"""Field configuration: the reference's stack of rename / type / annotate / description / order / delete.

The stack is applied in order to the fields a source yields (names, labels, guessed types) and gives the
published schema plus, for each published field, the source column it comes from. The same function
serves the preview and the publish, so what the preview shows is what the publish writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets.service import RUNNING, get_dataset, require_status
from datawharf.errors import InvalidInput, NotFound
from datawharf.extract.types import FIELD_TYPES
from datawharf.store.models import new_uid
from datawharf.store.models.datasets import FieldConfiguration

CONFIG_TYPES = ("rename", "type", "annotate", "description", "order", "delete")
ANNOTATIONS = ("id", "timeserie_precision", "unit", "decimals", "sortable", "multivalued", "hierarchical")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Which properties each configuration type takes, and which of them are required.
_PROPERTIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rename": (("from_name", "to_name", "field_label"), ("from_name", "to_name", "field_label")),
    "type": (("field", "type_param"), ("field", "type_param")),
    "annotate": (("field", "annotation", "args"), ("field", "annotation")),
    "description": (("field", "description"), ("field", "description")),
    "order": (("args",), ("args",)),
    "delete": (("field",), ("field",)),
}


@dataclass(frozen=True)
class FieldSpec:
    """A field of the published schema (and where its values come from)."""

    name: str
    label: str
    type: str
    source: str  # the technical name the extractor side gave this column
    original_name: str = ""
    description: str | None = None
    annotations: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    type_forced: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "original_name": self.original_name,
            "type": self.type,
            "description": self.description,
            "annotations": [dict(a) for a in self.annotations],
        }


def _invalid(message: str, field_name: str) -> InvalidInput:
    return InvalidInput(message, error_code="invalid_field_configuration", detail={field_name: [message]})


def validate_body(config_type: str, label: str | None, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(label, the type's own properties)``, checked; unknown properties are dropped."""
    if config_type not in _PROPERTIES:
        raise _invalid(
            f"Unknown field configuration type {config_type!r}: use {', '.join(CONFIG_TYPES)}.", "type"
        )
    allowed, required = _PROPERTIES[config_type]
    clean = {key: body[key] for key in allowed if body.get(key) is not None}
    for key in required:
        if key not in clean:
            raise _invalid(f"A {config_type!r} field configuration needs {key!r}.", key)
    for key in ("from_name", "to_name", "field"):
        if key in clean and (not isinstance(clean[key], str) or not _NAME.match(clean[key])):
            raise _invalid(
                f"{key} must be a technical field name (lowercase ASCII letters, digits, '_').", key
            )
    if config_type == "type" and clean["type_param"] not in FIELD_TYPES:
        raise _invalid(f"type_param must be one of {', '.join(FIELD_TYPES)}.", "type_param")
    if config_type == "annotate":
        if clean["annotation"] not in ANNOTATIONS:
            raise _invalid(f"annotation must be one of {', '.join(ANNOTATIONS)}.", "annotation")
        args = clean.get("args", [])
        if not isinstance(args, list):
            raise _invalid("args must be a list.", "args")
        clean["args"] = args
    if config_type == "order" and (
        not isinstance(clean["args"], list) or not all(isinstance(a, str) for a in clean["args"])
    ):
        raise _invalid("args must be the list of field names in their new order.", "args")
    if config_type == "description" and not isinstance(clean["description"], str):
        raise _invalid("description must be a string.", "description")
    if config_type == "rename" and not (
        isinstance(clean["field_label"], str) and clean["field_label"].strip()
    ):
        raise _invalid(
            "field_label must be a non-empty string: the field's label after the rename.", "field_label"
        )
    return (label or config_type).strip()[:500] or config_type, clean


def apply_configurations(
    fields: list[FieldSpec], configurations: list[tuple[str, dict[str, Any]]]
) -> list[FieldSpec]:
    """The stack applied in order. A configuration naming a field that does not exist is skipped: the
    source may have changed since it was written, and the publish should not fail for a stale rename."""
    current = list(fields)
    for config_type, body in configurations:
        if config_type == "order":
            wanted = [name for name in body["args"] if any(f.name == name for f in current)]
            ordered = [next(f for f in current if f.name == name) for name in dict.fromkeys(wanted)]
            current = ordered + [f for f in current if f.name not in wanted]
            continue
        target = body.get("from_name") if config_type == "rename" else body.get("field")
        index = next((i for i, f in enumerate(current) if f.name == target), None)
        if index is None:
            continue
        spec = current[index]
        if config_type == "rename":
            if any(f.name == body["to_name"] for i, f in enumerate(current) if i != index):
                continue
            current[index] = replace(spec, name=body["to_name"], label=body.get("field_label") or spec.label)
        elif config_type == "type":
            current[index] = replace(spec, type=body["type_param"], type_forced=True)
        elif config_type == "description":
            current[index] = replace(spec, description=body["description"])
        elif config_type == "annotate":
            others = tuple(a for a in spec.annotations if a["name"] != body["annotation"])
            annotation = {"name": body["annotation"], "args": list(body.get("args", []))}
            current[index] = replace(spec, annotations=(*others, annotation))
        elif config_type == "delete":
            del current[index]
    return current


def stack(configurations: list[FieldConfiguration]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.type, c.body) for c in configurations]


# --- CRUD --------------------------------------------------------------------------------------------


def get_configuration(session: Session, dataset_uid: str, uid: str) -> FieldConfiguration:
    config = session.get(FieldConfiguration, uid)
    if config is None or config.dataset_uid != dataset_uid:
        raise NotFound(
            f"No field configuration {uid!r} in dataset {dataset_uid!r}: list them with GET "
            f"/datasets/{dataset_uid}/fields/.",
            error_code="field_not_found",
        )
    return config


def list_configurations(
    session: Session, dataset_uid: str, *, limit: int, offset: int
) -> tuple[int, list[FieldConfiguration]]:
    get_dataset(session, dataset_uid)
    where = FieldConfiguration.dataset_uid == dataset_uid
    total = session.scalar(select(func.count()).select_from(FieldConfiguration).where(where)) or 0
    query = select(FieldConfiguration).where(where).order_by(FieldConfiguration.position)
    return total, list(session.scalars(query.limit(limit).offset(offset)))


def create_configuration(
    session: Session, dataset_uid: str, config_type: str, label: str | None, body: dict[str, Any]
) -> FieldConfiguration:
    dataset = get_dataset(session, dataset_uid)
    require_status(dataset, ("idle", "error", "limit_reached"), "change the field configuration")
    label, clean = validate_body(config_type, label, body)
    last = session.scalar(
        select(func.max(FieldConfiguration.position)).where(FieldConfiguration.dataset_uid == dataset_uid)
    )
    config = FieldConfiguration(
        uid=new_uid("pr"),
        dataset_uid=dataset_uid,
        position=(last or 0) + 1,
        type=config_type,
        label=label,
        body=clean,
    )
    session.add(config)
    session.flush()
    return config


def update_configuration(
    session: Session, dataset_uid: str, uid: str, config_type: str, label: str | None, body: dict[str, Any]
) -> FieldConfiguration:
    dataset = get_dataset(session, dataset_uid)
    if dataset.status in RUNNING:
        require_status(dataset, ("idle", "error", "limit_reached"), "change the field configuration")
    config = get_configuration(session, dataset_uid, uid)
    config.label, config.body = validate_body(config_type, label, body)
    config.type = config_type
    session.flush()
    return config


def delete_configuration(session: Session, dataset_uid: str, uid: str) -> None:
    dataset = get_dataset(session, dataset_uid)
    require_status(dataset, ("idle", "error", "limit_reached"), "change the field configuration")
    session.delete(get_configuration(session, dataset_uid, uid))
    session.flush()


def public(config: FieldConfiguration) -> dict[str, Any]:
    return {"uid": config.uid, "type": config.type, "label": config.label, **config.body}
