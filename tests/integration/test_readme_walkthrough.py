"""The README's walk-through runs as written (issue 17): ``docs/walkthrough/run_readme.py`` runs every
command of its ``console`` blocks in one bash, against a fresh home, the S3 test server and ``datawharf
serve`` on free loopback ports, and fails on any command that prints something else than the README."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "walkthrough" / "run_readme.py"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_readme", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_every_readme_command_prints_what_the_readme_shows() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=1800, cwd=REPO
    )
    summary = re.search(r"^(\d+) commands run, (\d+) printed", done.stdout, re.MULTILINE)
    assert summary, done.stdout[-5000:] + done.stderr[-5000:]
    assert int(summary.group(1)) >= 50  # the whole journey, not a part of it
    assert done.returncode == 0 and summary.group(2) == "0", done.stdout[-20000:]


def test_commands_are_read_with_their_continuations_and_outputs() -> None:
    readme = "\n".join(
        [
            "text",
            "```console",
            "$ curl -s -X POST $A/x \\",
            "    -d '{",
            '      "a": 1',
            "    }' | python3 -m json.tool",
            '{"a": 1}',
            "$ echo done",
            "done",
            "```",
            "```sh",
            "$ not run",
            "```",
        ]
    )
    steps = _runner().steps(readme)
    assert [(s.command.splitlines()[-1], s.expected) for s in steps] == [
        ("    }' | python3 -m json.tool", '{"a": 1}'),
        ("echo done", "done"),
    ]
    assert steps[0].line == 3 and steps[0].output_lines == (6, 7)


def test_generated_values_are_matched_by_shape_and_carried_into_later_commands(tmp_path: Path) -> None:
    runner = _runner()
    walk = runner.Walk(tmp_path, "5123", "8123")
    shown = '{"uid": "co_brgcv0px90", "created_at": "2026-11-25T05:29:45.131779Z", "n": ...}'
    assert walk.check(shown, '{"uid": "co_abcdefghij", "created_at": "2026-12-02T13:49:57Z", "n": 3}')
    assert (
        walk.command("curl http://127.0.0.1:8000/c/co_brgcv0px90/")
        == "curl http://127.0.0.1:8123/c/co_abcdefghij/"
    )
    assert not walk.check('{"uid": "co_brgcv0px90"}', '{"uid": "co_zzzzzzzzzz"}')  # a carried value is kept
    assert (
        walk.output(f"data in {tmp_path}/walk/home on 127.0.0.1:5123")
        == "data in /tmp/walk/home on 127.0.0.1:5055"
    )


def test_the_first_two_commands_stay_the_install_and_the_test_suite() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert (
        blocks[0].strip()
        == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/datawharf serve"
    )
    assert "./scripts/test" in [block.strip() for block in blocks]
    assert (REPO / "scripts" / "test").exists()


def test_readme_commands_run_the_installs_programs() -> None:
    """``datawharf`` is not on PATH after the install, nor is its ``python``: every command says
    ``.venv/bin/`` (``python3``, the system's, only reads JSON in pipes)."""
    steps = _runner().steps((REPO / "README.md").read_text(encoding="utf-8"))
    bare = re.compile(
        r"(?:^|[|;&(]|&&|\$\()\s*(?:[A-Z_]+=\S*\s+)*(datawharf|python|moto_server)\b", re.MULTILINE
    )
    assert [s.command for s in steps if bare.search(s.command)] == []
    assert sum(".venv/bin/datawharf" in s.command for s in steps) >= 10
