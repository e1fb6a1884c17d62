"""The extractors and their parameters as the help of ``--type`` and ``--param`` lists them (issue 17).

Written out, not read from ``extract/registry.py``: the registry imports pyarrow, which every command's
start-up would then pay; ``tests/unit/test_cli_help.py`` keeps this equal to the registry.
"""

from __future__ import annotations

EXTRACTOR_PARAMS: dict[str, tuple[str, ...]] = {
    "csvfile": (
        "encoding",
        "separator",
        "escapechar",
        "doublequote",
        "first_row_no",
        "headers_first_row",
        "extract_filename",
    ),
    "jsonfile": ("json_root", "json_object", "extract_filename"),
    "jsonl": ("extract_filename",),
    "geojson": ("epsg", "extract_filename"),
    "xlsfile": ("sheet", "first_row_no", "headers_first_row", "extract_filename"),
    "parquet": ("extract_filename",),
}
ARCHIVE_PARAMS = ("file_in_archive",)  # any extractor, for a file inside a zip or tar archive

PARAM_NAMES = sorted({*(name for names in EXTRACTOR_PARAMS.values() for name in names), *ARCHIVE_PARAMS})
PARAM_HELP = (
    "An extractor parameter NAME=VALUE (e.g. separator=';'); repeat for more. "
    + "; ".join(f"{extractor}: {', '.join(names)}" for extractor, names in EXTRACTOR_PARAMS.items())
    + f"; any, in an archive: {', '.join(ARCHIVE_PARAMS)}."
)
EXTRACTOR_HELP = f"The extractor, one of {', '.join(EXTRACTOR_PARAMS)}; default: guessed from the object."
