"""Every core used (issue 16, item 4): the publish's thread counts come from the settings, and default to
the cores this process may run on, not to constants tuned for a 2-core machine."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading

import pytest

from datawharf.extract.base import ReadOptions
from datawharf.extract.csv_parallel import read_parallel
from datawharf.settings import Settings


def test_thread_counts_default_to_the_cores_of_this_process() -> None:
    cores = len(os.sched_getaffinity(0))
    settings = Settings()
    assert settings.parse_threads == cores == settings.job_workers
    assert settings.convert_threads == max(1, cores // 2)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_a_process_pinned_to_one_core_defaults_to_one_thread() -> None:
    probe = (
        "from datawharf.settings import Settings; s = Settings(); print(s.parse_threads, s.convert_threads)"
    )
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("workers", [1, 3])
def test_the_csv_reader_parses_on_the_threads_it_is_given(workers: int) -> None:
    rows = "".join(f'{i},"text {i}, quoted",{i * 0.5}\n' for i in range(600_000))
    stream = io.BytesIO(b"id,text,value\n" + rows.encode())
    params = {"separator": ",", "headers_first_row": True, "encoding": "utf-8"}
    seen: set[str] = set()
    count = 0
    for batch in read_parallel(stream, params, ReadOptions(filename="f.csv"), workers=workers):
        count += batch.num_rows
        seen |= {t.name for t in threading.enumerate() if t.name.startswith("datawharf-csv-parse")}
    assert count == 600_000
    assert len(seen) == workers
