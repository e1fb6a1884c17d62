"""The pure parts of issue 16's benchmarks: the load mix and Amdahl's model. The benchmarks themselves run
on tiny data in ``test_bench_issue16_smoke.py`` (``python -m bench.issue16 --smoke``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ lives beside src/, outside the installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench import explore_load, scaling  # noqa: E402

from datawharf.odsql import QueryRequest  # noqa: E402


def test_the_load_mix_covers_every_kind_and_renders_as_query_strings() -> None:
    drawn = explore_load.mix(400)
    kinds = {kind for kind, _ in drawn}
    expected = {"page", "filter", "search", "order_by", "refine", "group_by", "aggregate", "export"}
    assert kinds == expected
    assert explore_load.mix(50) == explore_load.mix(50)  # seeded: both sides get the same sequence
    assert len({repr(request) for _, request in drawn}) < len(drawn)  # repeats happen...
    assert len({repr(request) for _, request in drawn}) > 40  # ...not always
    request = QueryRequest(where=["a = 1", "b = 2"], refine=["category:b"], limit=10, offset=20)
    assert explore_load.http_params(request) == [
        ("where", "a = 1"),
        ("where", "b = 2"),
        ("refine", "category:b"),
        ("limit", "10"),
        ("offset", "20"),
    ]


def test_amdahls_model_from_the_two_points() -> None:
    assert scaling.amdahl(2.0, 16) == pytest.approx(16)  # perfectly parallel
    assert scaling.amdahl(1.0, 16) == pytest.approx(1)  # all serial
    assert scaling.amdahl(1.6, 16) == pytest.approx(1 / (0.25 + 0.75 / 16))
