"""Field identities: technical names, labels and original names from a header row.

Technical names are what queries, exports and the field configuration use, so they must be stable,
unique and safe everywhere (SQL identifiers, URLs, Parquet columns): lowercase ASCII letters, digits and
``_``, never starting with a digit. Labels keep the header as the user wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from unidecode import unidecode

from datawharf.extract.limits import MAX_LABEL_CHARS, MAX_NAME_CHARS

_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class FieldIdentity:
    name: str
    label: str
    original_name: str


def technical_name(header: str) -> str:
    """``"Libellé de l'arc (m²)"`` -> ``"libelle_de_l_arc_m2"``; empty when nothing usable is left."""
    name = _NOT_NAME.sub("_", unidecode(header).lower()).strip("_")
    if name and name[0].isdigit():
        name = f"field_{name}"
    return name[:MAX_NAME_CHARS].rstrip("_")


def field_identities(headers: Sequence[str | None]) -> list[FieldIdentity]:
    """One identity per column; a missing or unusable header becomes ``column_<position>``."""
    taken: set[str] = set()
    result: list[FieldIdentity] = []
    for position, header in enumerate(headers, start=1):
        original = header if header is not None else ""
        label = " ".join(original.split())[:MAX_LABEL_CHARS]
        base = technical_name(original) or f"column_{position}"
        if not label:
            label = f"Column {position}"
        name, suffix = base, 2
        while name in taken:
            name = f"{base}_{suffix}"
            suffix += 1
        taken.add(name)
        result.append(FieldIdentity(name=name, label=label, original_name=original))
    return result
