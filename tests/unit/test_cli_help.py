"""The CLI's help says what a command takes (issue 17): flags without a ``<bool>`` value, the ``--param``
names of every extractor, the permission names of ``apikeys create``."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from datawharf.apikeys import PERMISSIONS
from datawharf.cli import COMMANDS, app
from datawharf.cli.extractor_help import ARCHIVE_PARAMS, EXTRACTOR_PARAMS
from datawharf.extract.archive import ARCHIVE_PARAMETERS
from datawharf.extract.registry import EXTRACTORS

runner = CliRunner()


def _help(*args: str) -> str:
    shown = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    return " ".join(shown.output.replace("│", " ").split())  # the panels' borders, breaks, padding aside


def _every_command() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]
    for name, lazy in COMMANDS.items():
        command: Any = lazy.load(name)
        found.append((name,))
        found += [(name, sub) for sub in getattr(command, "commands", {})]
    return found


def test_the_written_out_parameter_names_are_the_registrys() -> None:
    assert {name: tuple(p.name for p in e.parameters) for name, e in EXTRACTORS.items()} == EXTRACTOR_PARAMS
    assert tuple(p.name for p in ARCHIVE_PARAMETERS) == ARCHIVE_PARAMS


@pytest.mark.parametrize("command", [("preview",), ("datasets", "create")])
def test_param_help_lists_every_extractors_parameters(command: tuple[str, ...]) -> None:
    text = _help(*command)
    for extractor, names in EXTRACTOR_PARAMS.items():
        assert f"{extractor}: {', '.join(names)}" in text, extractor
    assert "file_in_archive" in text and "NAME=VALUE" in text


def test_apikeys_create_help_lists_the_permissions() -> None:
    assert f"A permission to give: {', '.join(PERMISSIONS)}." in _help("apikeys", "create")


def test_no_flag_is_shown_as_taking_a_value() -> None:
    commands = _every_command()
    assert len(commands) > 20
    for command in commands:
        text = _help(*command)
        assert "<bool>" not in text, command
        assert "--help Show this message and exit." in text, command
    assert "--wait Until it ends" in _help("datasets", "publish")
