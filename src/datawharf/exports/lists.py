"""``list_separator``: the values of a multivalued text field (annotated ``multivalued`` with its
separator, ``{"name": "multivalued", "args": [";"]}``) written joined by the separator the client asks
for, as Opendatasoft's csv exports do. The warehouse keeps such a value as its source text; Arrow's
string kernels split it, trim each value and join them again, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from datawharf.datasets.catalog import PublishedDataset
from datawharf.odsql import OutputColumn


def separators(dataset: PublishedDataset, columns: Sequence[OutputColumn]) -> list[str | None]:
    """Each output column's multivalued separator (None: not a multivalued field)."""
    found: dict[str, str] = {}
    for field in dataset.fields:
        for annotation in field.annotations:
            args = annotation.get("args") or []
            if annotation.get("name") == "multivalued" and args and isinstance(args[0], str) and args[0]:
                found[field.name] = args[0]
    return [found.get(c.name) if c.type == "text" else None for c in columns]


def _joined(array: pa.Array, separator: str, joiner: str) -> pa.Array:
    lists = pc.split_pattern(array, separator)
    trimmed = pc.utf8_trim_whitespace(lists.flatten())
    rebuilt = pa.ListArray.from_arrays(lists.offsets, trimmed, mask=lists.is_null())
    return pc.binary_join(rebuilt, joiner)


def relisted(
    batches: Iterable[pa.RecordBatch], seps: Sequence[str | None], joiner: str
) -> Iterator[pa.RecordBatch]:
    """``batches`` with each multivalued column's values joined by ``joiner``."""
    for batch in batches:
        arrays = [
            batch.column(i) if sep is None else _joined(batch.column(i), sep, joiner)
            for i, sep in enumerate(seps)
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=batch.schema)
