"""The one parser of extractor parameters: typed values in, every refusal an ``invalid_params`` naming
the parameter and the rule (never a parser's own message)."""

from __future__ import annotations

import pytest

from datawharf.errors import InvalidInput
from datawharf.extract.params import check_params, parse_pairs


def test_values_come_back_typed_whatever_their_spelling() -> None:
    given = {
        "first_row_no": " 3 ",
        "doublequote": "no",
        "separator": "tab",
        "escapechar": "",
        "encoding": "cp1252",
    }
    assert check_params("csvfile", given) == {
        "first_row_no": 3,
        "doublequote": False,
        "separator": "\t",
        "escapechar": None,
        "encoding": "cp1252",
    }
    assert parse_pairs(["epsg=2154", "file_in_archive=a/b.geojson"], "geojson") == {
        "epsg": 2154,
        "file_in_archive": "a/b.geojson",
    }
    assert check_params("csvfile", {"separator": None, "escapechar": None}) == {"escapechar": None}


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"first_row_no": "+-5"}, "must be a whole number"),
        ({"first_row_no": "１２"}, "must be a whole number"),
        ({"first_row_no": True}, "must be a whole number"),
        ({"encoding": "base64"}, "must be an encoding"),
        ({"encoding": "undefined"}, "must be an encoding"),
        ({"encoding": "utf\x00"}, "must be an encoding"),
        ({"separator": ";;"}, "must be one character"),
        ({"sheet": 3}, "must be a string"),
        ({"epsg": 99}, "EPSG:99 is not a projection"),
        ({"sep": ";"}, "unknown parameter"),
    ],
)
def test_refusals_name_the_parameter_and_the_rule(params: dict[str, object], rule: str) -> None:
    extractor = "geojson" if "epsg" in params else ("xlsfile" if "sheet" in params else "csvfile")
    with pytest.raises(InvalidInput) as refused:
        check_params(extractor, params)
    assert refused.value.error_code == "invalid_params"
    assert rule in refused.value.message and f"{next(iter(params))!r}" in refused.value.message
    assert refused.value.detail["valid_params"]


def test_a_pair_without_equals_is_refused() -> None:
    with pytest.raises(InvalidInput, match="NAME=VALUE"):
        parse_pairs(["separator"], "csvfile")
