"""Processes that race: each reads one JSON command per line on stdin and answers one JSON line.

The parent writes the same command to every racer before reading any answer, so they all start the
contended step (the first use of a new home's key, a scheduling pass) within a millisecond or two of
each other, after their imports: what several datawharf processes started together do.

Run as ``python -m tests.support.racers`` from the repository root; ``Racers`` does that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from datawharf.connections import crypto
from datawharf.datasets.scheduler import queue_due_schedules
from datawharf.harvest.harvest import run_harvest
from datawharf.harvest.scheduler import run_due_harvesters
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import utcnow

REPOSITORY = Path(__file__).resolve().parents[2]


class Racers:
    """``count`` racer processes; ``race(command)`` sends it to all at once and returns their answers."""

    def __init__(self, count: int, env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
        self._processes = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.racers"],
                cwd=REPOSITORY,
                env={**clean, **(env or {})},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        self.race({"op": "ready"})  # imports done everywhere before the first real race

    def race(self, command: dict[str, Any] | list[dict[str, Any]]) -> list[Any]:
        """One command for all, or one per racer (a list)."""
        commands = command if isinstance(command, list) else [command] * len(self._processes)
        for process, one in zip(self._processes, commands, strict=True):
            assert process.stdin is not None
            process.stdin.write(json.dumps(one) + "\n")
            process.stdin.flush()
        answers = []
        for process in self._processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line, f"a racer exited with {process.wait(timeout=10)}"
            answers.append(json.loads(line))
        return answers

    def __enter__(self) -> Racers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            assert process.stdout is not None
            process.stdout.close()


# --- the racer's side ---------------------------------------------------------------------------


def _answer(command: dict[str, Any], homes: dict[str, Any], databases: dict[str, Database]) -> Any:
    op = command["op"]
    if op == "ready":
        return "ready"
    if op == "encrypt":  # the first use of the home's key; kept, as a running process keeps it
        settings = homes.setdefault(command["home"], Settings(home=Path(command["home"])))
        return crypto.encrypt(settings, command["secret"])
    if op == "decrypt":
        settings = homes[command["home"]]
        return [crypto.decrypt(settings, token) for token in command["tokens"]]
    if op in ("schedule_pass", "harvest_pass", "harvest_due"):
        if command["home"] not in databases:  # kept open between passes, as a server's is
            settings = Settings(home=Path(command["home"]), **command.get("settings", {}))
            databases[command["home"]] = Database(settings)
        database = databases[command["home"]]
        if op == "harvest_pass":  # one harvester's pass (queued runs are left queued)
            return run_harvest(database, database.settings, command["harvester"])
        if op == "harvest_due":  # the scheduler's harvester step: the uids it claimed and ran
            return run_due_harvesters(database, database.settings, utcnow(), lambda _d, _r: None)
        return queue_due_schedules(database, utcnow())
    raise ValueError(f"unknown racer command {op!r}")


def main() -> None:
    homes: dict[str, Any] = {}
    databases: dict[str, Database] = {}
    for line in sys.stdin:
        try:
            answer: Any = {"ok": _answer(json.loads(line), homes, databases)}
        except Exception as exc:  # reported to the parent, which fails the test with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    for database in databases.values():
        database.dispose()


if __name__ == "__main__":
    main()
