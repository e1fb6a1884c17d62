"""Start localbucket on a free loopback port over the benchmark data folder, and name its objects.

localbucket serves a folder as a bucket directly, so nothing is uploaded: the generated files in
``<data dir>/bench/`` are the objects. It accepts any credentials (it checks none).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from bench.generate import BUCKET, DataFile
from bench.objects import S3Object


class BenchServer:
    """A localbucket subprocess (see ``bench.lbserve``) for the lifetime of a ``with`` block."""

    def __init__(self, data_dir: Path, *, nodelay: bool = False) -> None:
        """``nodelay``: TCP_NODELAY on the server's connections (see ``bench.lbserve``)."""
        self.data_dir = data_dir
        self.nodelay = nodelay
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def __enter__(self) -> BenchServer:
        (self.data_dir / BUCKET).mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.lbserve",
                str(self.data_dir),
                *(["--nodelay"] if self.nodelay else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self._process.stdout is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self.close()
            raise RuntimeError("localbucket did not start: see its error output above")
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self._wait_ready()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self) -> dict[str, int]:
        """Requests and object bytes served so far; before and after a run, the difference is its cost."""
        with urllib.request.urlopen(f"{self.endpoint_url}/_bench/stats", timeout=5) as response:
            return json.loads(response.read())

    def object(self, data_file: DataFile) -> S3Object:
        return S3Object(
            endpoint_url=self.endpoint_url,
            bucket=BUCKET,
            key=data_file.key,
            size=data_file.bytes,
            rows=data_file.rows,
            format=data_file.format,
            content_size=data_file.content_bytes,
        )

    def warm(self, data_files: list[DataFile]) -> None:
        """Read each file once and HEAD each object, so no contender pays for a cold page cache or for
        localbucket's first-access MD5 of the whole file (its ETag, cached afterwards)."""
        for data_file in data_files:
            with data_file.path.open("rb") as file:
                while file.read(8 * 1024 * 1024):
                    pass
            request = urllib.request.Request(f"{self.endpoint_url}/{BUCKET}/{data_file.key}", method="HEAD")
            with urllib.request.urlopen(request, timeout=120):
                pass
