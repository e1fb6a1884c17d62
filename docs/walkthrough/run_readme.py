"""Run README.md's walk-through as written, and check that every command prints what the README shows.

    .venv/bin/python docs/walkthrough/run_readme.py [README.md]

Every ``console`` block of the README is a list of ``$ command`` lines, each followed by what it prints.
The commands run in order, in one bash (so ``export``, ``&`` and variables carry over), in a scratch
folder that holds links to the repository's ``.venv`` and ``docs/``; what they print (stdout and stderr,
as a terminal shows them) is compared with the README. The test suite runs this script
(``tests/integration/test_readme_walkthrough.py``), so the README cannot drift from the program.

What differs from one run to the next is matched, not compared:

- the folder ``/tmp/walk`` and the ports ``5055`` (the S3 test server) and ``8000`` (datawharf) are a
  fresh scratch folder and free ports here; commands are rewritten to use them, output rewritten back;
- generated identifiers (``co_…``, ``da_…``, API keys, AWS access keys and secrets, external IDs, role
  names) match any value of their shape, and the value a run printed then replaces the README's in
  every later command: ``curl $A/datasource_connections/co_brgcv0px90/`` reaches the connection that
  this run created;
- times (ISO 8601, ``2026-11-25 05:39:41 UTC``) match any time; ``...`` in an output matches any text
  (as doctest's ELLIPSIS), for what the README shortens or what varies (a transfer rate).

Hand-written, because no tool does this: doctest and cram/prysk compare literally, without carrying a
generated value from one command's output into the next command.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WALK_DIR, S3_PORT, DATAWHARF_PORT = "/tmp/walk", "5055", "8000"
COLUMNS = 110  # tables are as wide as the README's page
COMMAND_TIMEOUT = 240.0  # seconds; a publish on a loaded machine is slow, a hang is not
MARKER = "__readme_walk_done__"

# Generated values: matched by shape, carried from the output where they appear into later commands.
CARRIED = [
    r"\b(?:co|da|re|ch|ak|ru|sc|fc)_[a-z0-9]{10}\b",
    r"\b[0-9a-f]{64}\b",
    r"\bAKIA[A-Z0-9]{16}\b",
    r"(?<![\w/+])[A-Za-z0-9/+]{40}(?![\w/+=])",
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
    r"\bDatawharfReader-[0-9a-f]{6}\b",
]
# Times: matched by shape only.
FREE = [
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?",
    r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?: UTC)?",
]
ELLIPSIS = r"\.\.\."
KINDS = {"c": CARRIED, "f": FREE, "e": [ELLIPSIS]}
TOKEN = re.compile("|".join(f"(?P<{kind}{n}>{p})" for kind, ps in KINDS.items() for n, p in enumerate(ps)))


@dataclass
class Step:
    line: int  # of the README (from 1), where the command starts
    command: str
    output_lines: tuple[int, int] = (0, 0)  # the README's lines (from 0, end excluded) it shows printed
    expected: str = ""


@dataclass
class Walk:
    """The run's state: the scratch folder, the ports, and the README's values -> this run's values."""

    folder: Path
    s3_port: str
    datawharf_port: str
    carried: dict[str, str] = field(default_factory=dict)

    def command(self, text: str) -> str:
        text = text.replace(WALK_DIR, str(self.folder / "walk"))
        text = text.replace(f"127.0.0.1:{S3_PORT}", f"127.0.0.1:{self.s3_port}").replace(
            f"-p {S3_PORT}", f"-p {self.s3_port}"
        )
        text = text.replace(f"127.0.0.1:{DATAWHARF_PORT}", f"127.0.0.1:{self.datawharf_port}")
        return re.sub("|".join(CARRIED), lambda m: self.carried.get(m.group(0), m.group(0)), text)

    def output(self, text: str) -> str:
        """What a command printed, in the README's terms (folder and ports), trailing spaces dropped."""
        text = text.replace(str(self.folder / "walk"), WALK_DIR)
        text = text.replace(f"127.0.0.1:{self.s3_port}", f"127.0.0.1:{S3_PORT}")
        text = text.replace(f"127.0.0.1:{self.datawharf_port}", f"127.0.0.1:{DATAWHARF_PORT}")
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())

    def check(self, expected: str, actual: str) -> bool:
        """Whether ``actual`` is what ``expected`` shows; learns the generated values it carries."""
        pattern, groups, seen = [], {}, {}
        last = 0
        for match in TOKEN.finditer(expected):
            pattern.append(re.escape(expected[last : match.start()]))
            last = match.end()
            kind, token = match.lastgroup or "", match.group(0)
            if kind.startswith("e"):
                pattern.append(r"[\s\S]*?")
            elif kind.startswith("f"):
                pattern.append(f"(?:{token_pattern(kind)})")
            elif token in self.carried:
                pattern.append(re.escape(self.carried[token]))
            elif token in seen:
                pattern.append(f"(?P={seen[token]})")
            else:
                name = f"g{len(groups)}"
                seen[token], groups[name] = name, token
                pattern.append(f"(?P<{name}>{token_pattern(kind)})")
        pattern.append(re.escape(expected[last:]))
        found = re.fullmatch("".join(pattern), actual)
        if found is None:
            self._pair_up(expected, actual)
            return False
        for name, token in groups.items():
            self.carried[token] = found.group(name)
        return True


    def _pair_up(self, expected: str, actual: str) -> None:
        """After a mismatch, the generated values of both, paired in order where they line up: so one
        changed output does not fail every later command that uses a value it printed."""
        carried = re.compile("|".join(CARRIED))
        theirs, ours = carried.findall(expected), carried.findall(actual)
        if len(theirs) == len(ours):
            for readme_value, value in zip(theirs, ours, strict=True):
                self.carried.setdefault(readme_value, value)


def token_pattern(kind: str) -> str:
    """The pattern of a ``TOKEN`` group, by its name (``c2``: the third of ``CARRIED``)."""
    return KINDS[kind[0]][int(kind[1:])]


def steps(readme: str) -> list[Step]:
    """The ``$ `` commands of every ``console`` block, each with the lines it prints. A command goes on
    while a line ends with ``\\`` or a quote is open (``shlex`` says so)."""
    found: list[Step] = []
    lines = readme.splitlines()
    inside, current = False, None

    def close(end: int) -> None:
        if current is not None:
            start = current.output_lines[0]
            current.output_lines, current.expected = (start, end), "\n".join(lines[start:end])
            found.append(current)

    for index, line in enumerate(lines):
        if not inside:
            inside = line.strip() == "```console"
            continue
        continuing = current is not None and current.output_lines[0] == index and _open(current.command)
        if continuing and current is not None:
            current.command += "\n" + line
            current.output_lines = (index + 1, index + 1)
        elif line.strip() == "```":
            close(index)
            inside, current = False, None
        elif line.startswith("$ "):
            close(index)
            current = Step(index + 1, line[2:], (index + 1, index + 1))
    return found


def _open(command: str) -> bool:
    if command.endswith("\\"):
        return True
    try:
        shlex.split(command)
    except ValueError:  # "No closing quotation"
        return True
    return False


def free_port(like: str) -> str:
    """A free loopback port with as many digits as ``like``: a URL in a table keeps the README's width."""
    chooser = random.Random()
    for _ in range(1000):
        port = chooser.randrange(10 ** (len(like) - 1), 10 ** len(like))
        if port < 1024:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return str(port)
    raise RuntimeError(f"no free {len(like)}-digit port")


class Shell:
    """One bash for the whole walk: a command is written to it, then a marker with its exit code."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its background jobs (the servers) in its process group
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def run(self, command: str) -> tuple[str, int]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n__rc=$?; echo; echo {MARKER} $__rc\n")
        self.process.stdin.flush()
        printed: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=COMMAND_TIMEOUT)
            except queue.Empty:
                raise TimeoutError(f"no end after {COMMAND_TIMEOUT:.0f} s") from None
            if not line:
                raise RuntimeError("bash ended")
            if line.startswith(MARKER):
                return "".join(printed).removesuffix("\n"), int(line.split()[1])
            printed.append(line)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def walk(readme_path: Path, write: bool = False) -> int:
    """Run every step; print each mismatch; the number of steps that did not print what the README says.

    With ``write``, the README is rewritten with what this run printed where it differed, and with this
    run's generated values everywhere (a developer's way to refresh it after a change of output)."""
    text = readme_path.read_text(encoding="utf-8")
    all_steps = steps(text)
    replacements: list[tuple[int, int, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="readme-walk-") as scratch:
        folder = Path(scratch)
        (folder / ".venv").symlink_to(Path(sys.prefix))
        (folder / "docs").symlink_to(REPO / "docs")
        state = Walk(folder, free_port(S3_PORT), free_port(DATAWHARF_PORT))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
        env.update(
            {
                "COLUMNS": str(COLUMNS),
                "TMPDIR": str(folder),
                "S3_ENDPOINT_URL": f"http://127.0.0.1:{state.s3_port}",
                "DATAWHARF_PORT": state.datawharf_port,
                "NO_COLOR": "1",
                "LC_ALL": "C.UTF-8",
            }
        )
        shell = Shell(folder, env)
        failures = 0
        try:
            for step in all_steps:
                printed, code = shell.run(state.command(step.command))
                actual = state.output(printed)
                expected = "\n".join(line.rstrip() for line in step.expected.strip("\n").splitlines())
                if not state.check(expected, actual):
                    failures += 1
                    replacements.append((*step.output_lines, actual.splitlines()))
                    print(
                        f"README.md:{step.line}: $ {step.command}\n--- the README shows:\n{expected}\n"
                        f"--- it printed (exit code {code}):\n{actual}\n",
                        flush=True,
                    )
        finally:
            shell.close()
    if write:
        lines = text.splitlines()
        for start, end, printed_lines in reversed(replacements):
            lines[start:end] = printed_lines
        new = "\n".join(lines) + "\n"
        new = re.sub("|".join(CARRIED), lambda m: state.carried.get(m.group(0), m.group(0)), new)
        readme_path.write_text(new, encoding="utf-8")
    print(f"{len(all_steps)} commands run, {failures} printed something else than the README shows.")
    return failures


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--write"]
    readme = Path(arguments[0]) if arguments else REPO / "README.md"
    sys.exit(1 if walk(readme, write="--write" in sys.argv[1:]) else 0)
