"""The wizard's source-configuration form: each extractor parameter's control, and its value read back."""

from __future__ import annotations

import json

import pytest

from datawharf.errors import InvalidInput
from datawharf.extract.params import check_params
from datawharf.extract.registry import EXTRACTORS
from datawharf.web.rendering import cron_words
from datawharf.web.wizard import _param_controls, _parse_param

CSV = {p.name: p for p in EXTRACTORS["csvfile"].parameters}


def test_every_csv_parameter_has_a_control_showing_its_value() -> None:
    controls = {
        c["param"].name: c for c in _param_controls("csvfile", {"separator": "\t", "first_row_no": 3})
    }
    assert set(controls) == set(CSV)
    separator = controls["separator"]
    assert separator["kind"] == "select"
    assert [(label, selected) for _value, label, selected in separator["options"]] == [
        ("Comma (,)", False),
        ("Semicolon (;)", False),
        ("Tab", True),
        ("Pipe (|)", False),
        ("Space", False),
    ]
    assert controls["first_row_no"] == {**controls["first_row_no"], "kind": "number", "value": "3"}
    assert [o for o in controls["doublequote"]["options"] if o[2]] == [("true", "Yes", True)]
    assert controls["escapechar"]["value"] == ""


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("separator", json.dumps("\t"), "\t"),
        ("separator", json.dumps(" "), " "),
        ("doublequote", "false", False),
        ("headers_first_row", "true", True),
        ("first_row_no", "4", 4),
        ("escapechar", "\\", "\\"),
        ("encoding", "cp1252", "cp1252"),
    ],
)
def test_form_values_come_back_typed(name: str, raw: str, expected: object) -> None:
    assert check_params("csvfile", {name: _parse_param(CSV[name], raw)}) == {name: expected}


@pytest.mark.parametrize("name", ["first_row_no", "escapechar"])
def test_an_empty_form_value_means_guess_it(name: str) -> None:
    assert _parse_param(CSV[name], "") is None


def test_a_row_number_that_is_not_a_number_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="'first_row_no' of csvfile: must be a whole number"):
        check_params("csvfile", {"first_row_no": _parse_param(CSV["first_row_no"], "two")})


def test_cron_in_words_on_a_24_hour_clock() -> None:
    assert cron_words("0 3 * * *") == "At 03:00, every day"
    assert cron_words("30 18 * * 1-5") == "At 18:30, Monday through Friday"
    assert cron_words("not a cron") == ""
