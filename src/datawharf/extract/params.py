"""Extractor parameters: the one parser the API, the CLI and the backoffice call.

A parameter is checked where it is given, not when a publish finally reads it: an unknown name or a
value its extractor cannot use is refused with ``invalid_params``, whose message and ``detail`` name
the parameter, the rule, and the names the extractor knows. Values come typed (the API's JSON) or as
text (a ``--param name=value``, a form field); both go through ``check_params``, which gives every
value its declared type, so ``"3"`` and ``3`` are the same ``first_row_no``.

``None`` means "guess it", except for a parameter whose default is ``None`` (``escapechar``,
``file_in_archive``): there ``None`` is a real value ("no escape character").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from datawharf.errors import ExtractError, InvalidInput
from datawharf.extract._geo import transform_for
from datawharf.extract.archive import ARCHIVE_PARAMETERS
from datawharf.extract.base import ExtractorParameter
from datawharf.extract.pairs import split_pairs
from datawharf.extract.registry import EXTRACTORS

TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
_TAB = ("\\t", "tab")
_ONE_CHARACTER = ("separator", "escapechar")
_MAX_TEXT = 1000


def declared(extractor: str | None) -> dict[str, ExtractorParameter]:
    """The parameters ``extractor`` takes (its own and the archive's); without one (it is to be
    guessed), those of any extractor."""
    chosen = [EXTRACTORS[extractor]] if extractor in EXTRACTORS else list(EXTRACTORS.values())
    known = {p.name: p for p in ARCHIVE_PARAMETERS}
    for candidate in chosen:
        known.update({p.name: p for p in candidate.parameters})
    return known


def nullable(extractor: str | None) -> frozenset[str]:
    """The parameters for which ``None`` is a value, not "guess it"."""
    return frozenset(name for name, p in declared(extractor).items() if p.default is None)


def missing(extractor: str, params: Mapping[str, Any]) -> list[str]:
    """The extractor's own parameters that ``params`` does not set: what a guess must fill in."""
    return [p.name for p in EXTRACTORS[extractor].parameters if p.name not in params]


def _refuse(extractor: str | None, name: str, rule: str, known: Iterable[str]) -> InvalidInput:
    names = sorted(known)
    whose = f" of {extractor}" if extractor else ""
    return InvalidInput(
        f"Parameter {name!r}{whose}: {rule}. Valid parameters: {', '.join(names)} "
        "(GET /api/automation/v1.0/extractors/ describes them).",
        error_code="invalid_params",
        detail={f"params.{name}": [rule], "valid_params": names},
    )


def _typed(parameter: ExtractorParameter, value: Any) -> Any:
    """``value`` as the parameter's type, or ``ValueError`` naming the rule."""
    if parameter.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise ValueError("must be true or false")
    if parameter.type == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*", value):
            number = int(value)
        else:
            raise ValueError("must be a whole number")
        if number < 1:
            raise ValueError("must be 1 or more")
        if parameter.name == "epsg":
            try:
                transform_for(number)
            except ExtractError as exc:
                raise ValueError(exc.message) from None
        return number
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > _MAX_TEXT:
        raise ValueError(f"must be at most {_MAX_TEXT} characters")
    if parameter.name in _ONE_CHARACTER:
        value = "\t" if value in _TAB else value
        if parameter.name == "escapechar" and value == "":
            return None
        if len(value) != 1:
            raise ValueError("must be one character (\\t for a tab)")
    if parameter.name == "encoding":
        try:
            "".encode(value)  # a text encoding: codecs.lookup would take base64 or zlib_codec too
        except (LookupError, ValueError):  # ValueError: "undefined", a NUL in the name
            raise ValueError("must be an encoding such as utf-8, windows-1252 or iso-8859-1") from None
    return value


def check_params(extractor: str | None, params: Any) -> dict[str, Any]:
    """``params`` with every value typed; refuses (``invalid_params``) a name ``extractor`` does not take
    or a value it cannot use. ``None`` values are dropped ("guess it") unless ``None`` is a value."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInput(
            'params must be an object of extractor parameters, e.g. {"separator": ";"}.',
            error_code="invalid_params",
            detail={"params": ["an object"], "valid_params": sorted(declared(extractor))},
        )
    known = declared(extractor)
    checked: dict[str, Any] = {}
    for name, value in params.items():
        parameter = known.get(name)
        if parameter is None:
            raise _refuse(extractor, str(name)[:100], "unknown parameter", known)
        if value is None:
            if parameter.default is None:
                checked[name] = None
            continue
        try:
            checked[name] = _typed(parameter, value)
        except ValueError as exc:
            raise _refuse(extractor, name, str(exc), known) from None
    return checked


def parse_pairs(pairs: Iterable[str] | None, extractor: str | None) -> dict[str, Any]:
    """Command-line ``name=value`` pairs, checked as ``check_params`` checks the API's."""
    return check_params(extractor, split_pairs(pairs, declared(extractor)))
