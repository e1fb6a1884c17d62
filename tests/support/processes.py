"""Real processes for tests: free loopback ports and a ``datawharf serve`` subprocess."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answers(
    url: str, process: subprocess.Popen[str], timeout: float = 90.0, verify: ssl.SSLContext | bool = True
) -> None:
    # Generous: a server that died is caught at once by poll(); only a loaded machine (``-n auto`` on
    # two cores, several servers starting together) ever waits long.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0, verify=verify)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def start_serve(home: Path, env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen[str]]:
    """``python -m datawharf serve`` on a free port, started but not yet answering: (base URL, process).

    Its output goes to ``serve_log(home)``, a file: a pipe nobody reads fills up and blocks the server.
    With ``DATAWHARF_TLS_CERT_FILE`` in ``env`` the base URL is ``https://``.
    """
    port = free_port()
    # Neither the developer's datawharf settings nor their AWS profile reach the server under test.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    full_env.update({"DATAWHARF_HOME": str(home), "DATAWHARF_PORT": str(port), "COLUMNS": "200"})
    full_env.update(env or {})
    home.mkdir(parents=True, exist_ok=True)
    with serve_log(home).open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "datawharf", "serve"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    scheme = "https" if full_env.get("DATAWHARF_TLS_CERT_FILE") else "http"
    return f"{scheme}://127.0.0.1:{port}", process


@contextmanager
def datawharf_serve(
    home: Path, env: dict[str, str] | None = None, *, verify: ssl.SSLContext | bool = True
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``start_serve``, then wait until it answers; yields (base URL, process) and stops it after.

    The base URL is checked against ``verify`` when it is ``https://``.
    """
    base_url, process = start_serve(home, env)
    try:
        wait_until_answers(f"{base_url}/openapi.json", process, verify=verify)
        yield base_url, process
    finally:
        stop(process)


def serve_log(home: Path) -> Path:
    return home / "serve.log"


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate, then kill if it does not stop within 10 s; idempotent."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
