"""Command-line ``NAME=VALUE`` pairs split into a dict of text values, before any extractor is known.

Kept apart from ``extract/params.py`` (which types them, and imports every extractor, pyarrow with them):
the CLI in server mode splits the pairs here and lets the server type them, so it never loads the engine.
"""

from __future__ import annotations

from collections.abc import Iterable

from datawharf.errors import InvalidInput


def split_pairs(pairs: Iterable[str] | None, valid_names: Iterable[str]) -> dict[str, str]:
    """``["separator=;"]`` -> ``{"separator": ";"}``; a pair without ``=`` or a name is ``invalid_params``,
    with the names ``valid_names`` lists."""
    raw: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(
                f"--param {pair[:100]!r}: write NAME=VALUE (e.g. separator=';').",
                error_code="invalid_params",
                detail={"params": ["NAME=VALUE"], "valid_params": sorted(set(valid_names))},
            )
        raw[name.strip()] = value
    return raw
