"""dataset_id slugs, the field configuration stack, and the job runner."""

from __future__ import annotations

import threading
import time

import pytest

from datawharf.datasets.fieldconfig import FieldSpec, apply_configurations, validate_body
from datawharf.datasets.identifiers import check_dataset_id, slugify, with_suffix
from datawharf.errors import InvalidInput
from datawharf.jobs.runner import JobContext, ThreadPoolRunner


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Qualité de l'air 2024", "qualite-de-lair-2024"),
        ("  Élections — résultats (T1)  ", "elections-resultats-t1"),
        ("Straße & Ölpreise", "strasse-olpreise"),
        ("北京 traffic", "bei-jing-traffic"),
        ("???", ""),
        ("a" * 150, "a" * 100),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize("bad", ["Hello World!", "-lead", "trail-", "UPPER", "a/b", "x" * 101, ""])
def test_malformed_dataset_ids(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_dataset_id(bad)
    assert caught.value.error_code == "invalid_dataset_id"


def test_suffix_keeps_length() -> None:
    assert with_suffix("air", 2) == "air-2"
    assert len(with_suffix("a" * 100, 12)) == 100


def spec(name: str, type_: str = "text") -> FieldSpec:
    return FieldSpec(name=name, label=name.title(), type=type_, source=name)


def test_stack_applies_in_order() -> None:
    fields = [spec("a"), spec("b", "int"), spec("c"), spec("d")]
    stack = [
        ("rename", {"from_name": "a", "to_name": "alpha", "field_label": "Alpha"}),
        ("type", {"field": "b", "type_param": "double"}),
        ("delete", {"field": "c"}),
        ("description", {"field": "alpha", "description": "first"}),
        ("annotate", {"field": "b", "annotation": "unit", "args": ["m"]}),
        ("annotate", {"field": "b", "annotation": "unit", "args": ["km"]}),
        ("order", {"args": ["d", "missing", "alpha"]}),
        ("rename", {"from_name": "nope", "to_name": "x"}),  # stale: skipped
        ("rename", {"from_name": "d", "to_name": "b"}),  # would clash with b: skipped
    ]
    result = apply_configurations(fields, stack)
    assert [f.name for f in result] == ["d", "alpha", "b"]
    alpha = result[1]
    assert (alpha.label, alpha.source, alpha.description) == ("Alpha", "a", "first")
    b = result[2]
    assert (b.type, b.type_forced) == ("double", True)
    assert b.annotations == ({"name": "unit", "args": ["km"]},)


def test_validate_body() -> None:
    label, body = validate_body("type", None, {"field": "x", "type_param": "int", "junk": 1})
    assert (label, body) == ("type", {"field": "x", "type_param": "int"})
    for config_type, bad in [
        ("type", {"field": "x", "type_param": "file"}),
        ("rename", {"from_name": "x"}),
        ("rename", {"from_name": "x", "to_name": "Bad Name"}),
        ("annotate", {"field": "x", "annotation": "colour"}),
        ("order", {"args": "x"}),
    ]:
        with pytest.raises(InvalidInput):
            validate_body(config_type, "l", bad)


def test_runner_runs_aborts_and_survives_failures() -> None:
    runner = ThreadPoolRunner(workers=2)
    started = threading.Event()
    try:

        def long_job(context: JobContext) -> None:
            started.set()
            while True:
                context.check()
                time.sleep(0.01)

        def failing(_context: JobContext) -> None:
            raise RuntimeError("boom")

        runner.submit("j1", "long", long_job)
        runner.submit("j2", "fails", failing)
        assert runner.submit("j1", "long again", long_job).name == "long"  # already running: not twice
        assert started.wait(5)
        assert runner.abort("j1") is True
        assert runner.wait("j1", timeout=5).state == "aborted"  # type: ignore[union-attr]
        failed = runner.wait("j2", timeout=5)
        assert failed is not None
        assert (failed.state, failed.error) == ("failed", "RuntimeError: boom")
        assert runner.abort("j1") is False
        assert runner.status("unknown") is None
    finally:
        runner.shutdown()
