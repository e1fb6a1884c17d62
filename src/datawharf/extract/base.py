"""The contract every format module in ``extract/`` fulfils.

Extractors never know where bytes come from: they get a binary file object (an S3 ranged reader in
production, a local file or ``io.BytesIO`` in tests) and yield Arrow record batches. Whoever opened
the file object measures what was fetched; an extractor's only duty there is to read no more than it
needs (stop as soon as ``max_records`` are complete; seek to the footer for Parquet, to the central
directory for zip...).

Records come out *raw*: column names as the source spells them, values as the source types them
(strings for CSV). Technical names, labels and type guessing/conversion are shared across formats
(``extract/fields.py``, ``extract/types.py``) and applied by the caller.

Adding a format is adding a module with one class following ``Extractor`` and one line in
``extract/registry.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, Literal, Protocol

import pyarrow as pa

from datawharf.extract.limits import DEFAULT_SPREADSHEET_LIMITS, SpreadsheetLimits

ParamType = Literal["string", "int", "boolean", "enum"]


@dataclass(frozen=True)
class ExtractorParameter:
    """One parameter of an extractor, in the shape of the reference ``Extractor.parameters``."""

    name: str
    type: ParamType
    label: str
    description: str
    default: Any = None
    choices: tuple[Any, ...] | None = None
    is_mandatory: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "default": self.default,
            "choices": list(self.choices) if self.choices is not None else None,
            "is_mandatory": self.is_mandatory,
        }


@dataclass(frozen=True)
class Sample:
    """What guessing looks at: the first bytes of the (decompressed) content and its origin."""

    head: bytes
    filename: str
    content_type: str | None = None
    is_complete: bool = False  # True when ``head`` is the whole content


@dataclass
class ReadOptions:
    """How much to read. ``max_records`` is None for a full publish, 20 for a preview."""

    max_records: int | None = None
    batch_size: int = 65_536
    filename: str | None = None  # the content's name, for ``extract_filename``
    max_bytes: int | None = None  # a bounded read (preview) reads at most this much content
    spreadsheet: SpreadsheetLimits = DEFAULT_SPREADSHEET_LIMITS  # what a workbook may cost (settings)
    extra: dict[str, Any] = field(default_factory=dict)


class Extractor(Protocol):
    """One format. Instances are stateless; all state is in the arguments."""

    name: ClassVar[str]  # reference type id: "csvfile", "jsonfile", "xlsfile", "parquet"...
    label: ClassVar[str]
    description: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]  # lowercase, with the dot: (".csv", ".tsv")
    parameters: ClassVar[tuple[ExtractorParameter, ...]]

    def detect(self, sample: Sample) -> float:
        """How sure we are (0 = not this format, 1 = certain) from magic bytes, name, type."""
        ...

    def guess_params(self, sample: Sample) -> dict[str, Any]:
        """Parameters that read this sample right; every declared parameter gets a value."""
        ...

    def read(
        self, stream: BinaryIO, params: dict[str, Any], options: ReadOptions
    ) -> Iterator[pa.RecordBatch]:
        """Raw record batches; bounded memory whatever the size of ``stream``."""
        ...
