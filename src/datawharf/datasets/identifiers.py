"""``dataset_id``: the human-readable identifier, made from the title when the user gives none.

``"Qualité de l'air 2024"`` -> ``"qualite-de-lair-2024"``: transliterated (unidecode), lowercase,
apostrophes dropped (``l'air`` is one word), anything else that is not a letter or a digit becomes one
``-``, trimmed. A given identifier must already be in that alphabet: it is checked, never rewritten.
"""

from __future__ import annotations

import re

from unidecode import unidecode

from datawharf.errors import InvalidInput

MAX_DATASET_ID = 100
DATASET_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_APOSTROPHES = re.compile(r"['’`´]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """The identifier a title suggests; empty when nothing usable is left (``"???"``)."""
    text = _APOSTROPHES.sub("", unidecode(title).lower())
    slug = _NOT_ALNUM.sub("-", text).strip("-")
    return slug[:MAX_DATASET_ID].rstrip("-")


def check_dataset_id(dataset_id: str) -> str:
    if len(dataset_id) > MAX_DATASET_ID or not DATASET_ID_PATTERN.match(dataset_id):
        suggestion = slugify(dataset_id)
        hint = f" (for example {suggestion!r})" if suggestion else ""
        raise InvalidInput(
            f"Invalid dataset_id {dataset_id[:120]!r}: use lowercase ASCII letters, digits, '-' and '_', "
            f"starting and ending with a letter or a digit, at most {MAX_DATASET_ID} characters{hint}.",
            error_code="invalid_dataset_id",
            detail={"dataset_id": ["invalid format"]},
        )
    return dataset_id


def with_suffix(base: str, number: int) -> str:
    """``base-2``, ``base-3``...; the base is cut so that the result still fits."""
    suffix = f"-{number}"
    return base[: MAX_DATASET_ID - len(suffix)].rstrip("-_") + suffix
