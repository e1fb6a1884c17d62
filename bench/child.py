"""One contender run in its own process.

    python -m bench.child MODULE:FUNCTION OBJECT_JSON OUT_DIR [PRELOAD...] [-ABSENT...]


Prints one JSON line: ``{"wall_s", "peak_rss_kib", "result"}`` or ``{"error"}``. The PRELOAD modules are
imported before the clock starts, so a library's import time is not counted as its work. An ABSENT
package (``-pandas``) cannot be imported in the process: the bench's environment holds every peer's
libraries, and a tool that does not depend on one must not pay for it (pyarrow imports pandas at its first
array whenever pandas is installed: ~30 MB of RSS and ~150 ms that a datawharf install does not have).
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import resource
import sys
import time
import traceback
from pathlib import Path

from bench.objects import S3Object

ABSENT_PREFIX = "-"


class _Absent(importlib.abc.MetaPathFinder):
    """Makes ``import package`` fail as it does where the package is not installed."""

    def __init__(self, packages: list[str]) -> None:
        self.packages = packages

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``); ``ru_maxrss`` where there is none."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_kib() -> int:
    """This process's RSS high-water mark, threads included.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries the parent's ``ru_maxrss`` over ``fork`` + ``exec``,
    so a child of a harness that has just generated 1 GiB would report the harness's peak, not its own.
    """
    return status_kib("VmHWM")


def main(argv: list[str]) -> int:
    spec, object_json, out_dir, *modules = argv
    absent = [m.removeprefix(ABSENT_PREFIX) for m in modules if m.startswith(ABSENT_PREFIX)]
    preload = [m for m in modules if not m.startswith(ABSENT_PREFIX)]
    if absent:
        sys.meta_path.insert(0, _Absent(absent))
    for module in preload:
        importlib.import_module(module)
    module_name, _, function_name = spec.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    obj = S3Object.from_json(object_json)
    try:
        started = time.perf_counter()
        result = function(obj, Path(out_dir))
        wall = time.perf_counter() - started
    except Exception as exc:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}))
        return 1
    peak = peak_rss_kib()
    print(json.dumps({"wall_s": wall, "peak_rss_kib": peak, "result": result}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
