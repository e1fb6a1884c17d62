"""Runs ``_sheet_child`` on a workbook file and turns its frames, or its death, into batches or errors.

A child process per workbook, so that its limits and its memory go with it, forked by a
``multiprocessing`` forkserver that has imported the reader once (pyarrow, calamine, numpy, pandas:
~1.5 s of imports a fresh interpreter would pay per workbook; a fork costs ~10 ms). A forkserver, not a
plain fork: the server is multithreaded, and a fork of it would copy its locks mid-use; the forkserver
is a single-threaded process of its own. It starts with the first workbook (~2 s of imports on an idle
core, paid once by that first preview): not at the server's start, which it would slow down for every
server, spreadsheets or not. The child sends frames through a one-way pipe (``_sheet_child``: the
first byte says the kind); the parent reads them with a deadline, so a publish stays streaming and
bounded (the pipe's buffer holds the child back while the publish writes).

How a child ends becomes the error the caller sees:

- an ``E`` frame: that error (the checks' ``spreadsheet_too_large``, calamine's ``spreadsheet_invalid``...);
- past ``timeout_seconds`` (killed here) or its CPU limit (SIGXCPU): ``spreadsheet_too_large``, naming
  ``DATAWHARF_SPREADSHEET_TIMEOUT``;
- SIGABRT (what Rust does when ``RLIMIT_AS`` refuses an allocation: "memory allocation of N bytes
  failed"; calamine's panics are exceptions, not aborts) or SIGKILL (the kernel's OOM killer):
  ``spreadsheet_too_large``, naming ``DATAWHARF_SPREADSHEET_MAX_MEMORY``;
- any other death (SIGSEGV...): ``spreadsheet_invalid``.

At most ``MAX_CHILDREN`` children of previews and guesses run at once (each may take
``max_memory_bytes``: many concurrent bombs must not exhaust the machine's memory and bring the OOM
killer to the server); one waits for a slot for up to its timeout, then fails with
``spreadsheet_readers_busy`` (503). A publish's children are not counted: a publish opens all its
resources at once (a dataset of twelve monthly workbooks would wait for itself), and publishes are
already bounded by ``DATAWHARF_JOB_WORKERS``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from datawharf.errors import DatawharfError, ExtractError
from datawharf.extract.limits import SpreadsheetLimits, too_large_body

_CONTEXT = multiprocessing.get_context("forkserver")
_PRELOAD = ["datawharf.extract._sheet_child"]
_CONTEXT.set_forkserver_preload(_PRELOAD)
_START_LOCK = threading.Lock()
MAX_CHILDREN = max(4, os.cpu_count() or 1)
_SLOTS = threading.BoundedSemaphore(MAX_CHILDREN)


class SpreadsheetReadersBusy(DatawharfError):
    http_status = 503
    default_code = "spreadsheet_readers_busy"


def warm() -> None:
    """Start the forkserver unless it runs (it then imports the reader: the first fork waits for it)."""
    from multiprocessing import forkserver

    with _START_LOCK:
        forkserver.ensure_running()


def _serve(request: dict[str, Any], out: Any) -> None:
    """In the child: the reader is preloaded by the forkserver (the server itself never imports it)."""
    from datawharf.extract._sheet_child import serve

    serve(request, out)


def run(request: dict[str, Any], limits: SpreadsheetLimits) -> Iterator[tuple[bytes, bytes]]:
    """The child's ``B`` and ``G`` frames for ``request``; an ``E`` frame or its death is raised."""
    if request.get("mode") != "guess" and request.get("max_records") is None:  # a publish
        yield from _run(request, limits)
        return
    if not _SLOTS.acquire(timeout=limits.timeout_seconds):
        raise SpreadsheetReadersBusy(
            f"All {MAX_CHILDREN} spreadsheet readers of previews stayed busy for "
            f"{limits.timeout_seconds:g} s: try again in a minute."
        )
    try:
        yield from _run(request, limits)
    finally:
        _SLOTS.release()


def _run(request: dict[str, Any], limits: SpreadsheetLimits) -> Iterator[tuple[bytes, bytes]]:
    warm()
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_serve,
        args=({**request, "limits": asdict(limits)}, sender),
        name="datawharf-sheet",
        daemon=True,
    )
    deadline = time.monotonic() + limits.timeout_seconds
    timed_out = False
    try:
        child.start()
        sender.close()  # the child holds the only write end: its exit is our EOF
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                timed_out = True
                break
            try:
                frame = receiver.recv_bytes(limits.max_memory_bytes)
            except (EOFError, OSError):
                break
            kind, payload = frame[:1], frame[1:]
            if kind == b"D":
                return
            if kind == b"E":
                body = json.loads(payload)
                raise ExtractError(body["message"], error_code=body["error_code"], detail=body.get("detail"))
            yield kind, payload
        child.kill()
        child.join()
        raise _death(child.exitcode, timed_out, limits)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
        child.close()


def batches(request: dict[str, Any], limits: SpreadsheetLimits) -> Iterator[pa.RecordBatch]:
    """The record batches the child reads for ``request``."""
    for kind, payload in run(request, limits):
        if kind == b"B":
            with pa.ipc.open_stream(payload) as reader:
                yield reader.read_next_batch()


def guess(request: dict[str, Any], limits: SpreadsheetLimits) -> dict[str, Any]:
    """The parameters the child guesses for ``request``."""
    for kind, payload in run({**request, "mode": "guess"}, limits):
        if kind == b"G":
            result: dict[str, Any] = json.loads(payload)
            return result
    raise ExtractError("The spreadsheet reader gave no answer.", error_code="spreadsheet_invalid")


def _death(exitcode: int | None, timed_out: bool, limits: SpreadsheetLimits) -> ExtractError:
    if timed_out or exitcode == -signal.SIGXCPU:
        return ExtractError(
            f"Reading the spreadsheet took longer than the {limits.timeout_seconds:g} s a workbook may take "
            "(DATAWHARF_SPREADSHEET_TIMEOUT): raise it if the workbook is genuine, or export the sheet as "
            "CSV.",
            error_code="spreadsheet_too_large",
            detail={"timeout_seconds": limits.timeout_seconds, "setting": "DATAWHARF_SPREADSHEET_TIMEOUT"},
        )
    if exitcode in (-signal.SIGABRT, -signal.SIGKILL):
        body = too_large_body(limits, "ran out of memory")
        return ExtractError(body["message"], error_code=body["error_code"], detail=body["detail"])
    cause = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit status {exitcode}"
    return ExtractError(
        f"The spreadsheet reader stopped on this workbook ({cause}): it is corrupt or not a spreadsheet "
        "datawharf can read; upload an intact copy, or export the sheet as CSV.",
        error_code="spreadsheet_invalid",
        detail={"exit": cause},
    )
