"""``incremental.plan`` with skipped objects (``DATAWHARF_GLOB_MISMATCH=skip``): known while unchanged,
read again (appended, never a rebuild) once changed, dropped when gone; rebuilt under ``fail``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from datawharf.datasets import incremental
from datawharf.datasets.incremental import ObjectRecord
from datawharf.datasets.locate import LocatedObject, LocatedSet
from datawharf.s3.listing import KeyPattern
from datawharf.settings import Settings
from datawharf.store.models.datasets import DatasetVersion

RESOURCE = "re_1"
PATTERN = "parts/"
REASON = "The object parts/b.csv does not have the fields of parts/a.csv (missing day; extra date)."
HELD = {
    "parts/a.csv": ObjectRecord(RESOURCE, "parts/a.csv", '"a"', 10, records=3),
    "parts/b.csv": ObjectRecord(RESOURCE, "parts/b.csv", '"b"', 20, skipped=REASON),
}


def listed(*objects: tuple[str, str, int]) -> LocatedSet:
    def located(key: str, etag: str, size: int) -> LocatedObject:
        return LocatedObject(key, etag, size, None, None, open=lambda: io.BytesIO())

    return LocatedSet(KeyPattern(PATTERN), objects=lambda: iter(located(*o) for o in objects))


def planned(tmp_path: Path, located: LocatedSet, **settings: str) -> incremental.Plan:
    current = DatasetVersion(
        uid="ch_1", config_hash="h", sources=[{"resource_uid": RESOURCE, "pattern": PATTERN}]
    )
    return incremental.plan(
        {RESOURCE: dict(HELD)},
        Settings(home=tmp_path, **settings),
        current,
        [(RESOURCE, located)],
        [{"resource_uid": RESOURCE, "pattern": PATTERN, "etag": None, "size": None}],
        "h",
    )


@pytest.mark.parametrize(
    ("objects", "kind", "new", "kept"),
    [
        # the skipped object as it was: known, nothing to read
        ([("parts/a.csv", '"a"', 10), ("parts/b.csv", '"b"', 20)], "unchanged", [], []),
        # the skipped object replaced: read again alone, appended; only the published one carried on
        (
            [("parts/a.csv", '"a"', 10), ("parts/b.csv", '"b2"', 21)],
            "append",
            ["parts/b.csv"],
            ["parts/a.csv"],
        ),
        # the skipped object gone: nothing of it to remove
        ([("parts/a.csv", '"a"', 10)], "unchanged", [], []),
        # gone, and a new object: the new one appended, the gone one no longer held
        ([("parts/a.csv", '"a"', 10), ("parts/c.csv", '"c"', 5)], "append", ["parts/c.csv"], ["parts/a.csv"]),
        # a published object changed: a rebuild, as before
        ([("parts/a.csv", '"a2"', 10), ("parts/b.csv", '"b"', 20)], "rebuild", [], []),
        # a published object gone: a rebuild, as before
        ([("parts/b.csv", '"b"', 20)], "rebuild", [], []),
    ],
)
def test_the_plan_of_a_set_with_a_skipped_object(
    tmp_path: Path, objects: list[tuple[str, str, int]], kind: str, new: list[str], kept: list[str]
) -> None:
    plan = planned(tmp_path, listed(*objects), glob_mismatch="skip")
    assert plan.kind == kind, plan.reason
    assert [o.name for o in plan.new.get(RESOURCE, [])] == new
    assert [o.key for o in plan.kept] == kept


def test_skipped_objects_are_carried_with_their_reason(tmp_path: Path) -> None:
    plan = planned(
        tmp_path,
        listed(("parts/a.csv", '"a"', 10), ("parts/b.csv", '"b"', 20), ("parts/c.csv", '"c"', 5)),
        glob_mismatch="skip",
    )
    assert plan.kind == "append"
    assert {o.key: o.skipped for o in plan.kept} == {"parts/a.csv": None, "parts/b.csv": REASON}


def test_a_version_with_skipped_objects_is_rebuilt_under_fail(tmp_path: Path) -> None:
    plan = planned(
        tmp_path, listed(("parts/a.csv", '"a"', 10), ("parts/b.csv", '"b"', 20)), glob_mismatch="fail"
    )
    assert plan.kind == "rebuild"
    assert "DATAWHARF_GLOB_MISMATCH" in plan.reason
