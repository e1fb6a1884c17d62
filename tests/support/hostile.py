"""The hostile-input harness: a real ``datawharf serve`` subprocess attacked over HTTP, its peak memory read.

``attack(server, name, ...)`` wraps one attack: it resets the server's peak RSS (``/proc/PID/clear_refs``),
times the block, then asserts the server is alive, answers ``/health``, stayed within the time bound and
within the RSS budget, and appends the figures to ``test-artifacts/hostile/report.jsonl`` (the numbers a
closing note quotes).
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx

from tests.support import reference
from tests.support.app import BOOTSTRAP_KEY

ADMIN = {"Authorization": f"apikey {BOOTSTRAP_KEY}"}
API = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1"
DEFAULT_RSS_BUDGET_MIB = 1024
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "hostile" / "report.jsonl"


@dataclass
class HostileServer:
    """A running ``datawharf serve``: its base URL, process and home; the admin key is ``BOOTSTRAP_KEY``.

    ``verify`` is what its clients check an ``https://`` server's certificate against (a test CA's context).
    """

    base_url: str
    process: Popen[str]
    home: Path
    verify: ssl.SSLContext | bool = True

    def client(self, *, admin: bool = True, timeout: float = 30.0) -> httpx.Client:
        client = httpx.Client(
            base_url=self.base_url, headers=ADMIN if admin else {}, timeout=timeout, verify=self.verify
        )
        reference.install(client)  # its 2xx management answers are checked against the reference too
        return client

    def status_kib(self, name: str) -> int:
        """A ``/proc/PID/status`` figure in KiB (``VmRSS``, ``VmHWM``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
        raise KeyError(name)

    def reset_peak(self) -> None:
        """Make ``VmHWM`` start again from the current RSS (Linux: writing 5 to clear_refs)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            return False
        try:
            return httpx.get(f"{self.base_url}/health", timeout=5.0, verify=self.verify).status_code == 200
        except httpx.TransportError:
            return False


@dataclass
class AttackRecord:
    """What one attack cost; ``notes`` takes whatever the test wants in the report (status, code...)."""

    name: str
    rss_before_mib: float = 0.0
    peak_mib: float = 0.0
    rss_after_mib: float = 0.0
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)


@contextmanager
def attack(
    server: HostileServer, name: str, *, max_seconds: float, rss_budget_mib: float = DEFAULT_RSS_BUDGET_MIB
) -> Iterator[AttackRecord]:
    """Time and measure the block's effect on ``server``; it must survive, answer, and stay in budget."""
    record = AttackRecord(name)
    server.reset_peak()
    record.rss_before_mib = server.status_kib("VmRSS") / 1024
    started = time.monotonic()
    yield record
    record.seconds = round(time.monotonic() - started, 3)
    alive = server.process.poll() is None
    if alive:
        record.peak_mib = round(server.status_kib("VmHWM") / 1024, 1)
        record.rss_after_mib = round(server.status_kib("VmRSS") / 1024, 1)
    record.rss_before_mib = round(record.rss_before_mib, 1)
    _report(record, alive)
    assert alive, f"{name}: the server died (exit code {server.process.returncode})"
    assert server.healthy(), f"{name}: the server no longer answers /health"
    assert record.seconds <= max_seconds, f"{name}: took {record.seconds}s, bound {max_seconds}s"
    assert record.peak_mib <= rss_budget_mib, f"{name}: peak RSS {record.peak_mib} MiB > {rss_budget_mib}"


def _report(record: AttackRecord, alive: bool) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    line = {**record.__dict__, "alive": alive, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}
    with REPORT.open("a") as handle:
        handle.write(json.dumps(line, default=str) + "\n")


def error_code(response: httpx.Response) -> str | None:
    """The ``error_code`` of a JSON error body, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) else None
