"""Explore admission (issue 16, item 3): a few catalog/records requests at once, the others waiting in
arrival order before they take a thread; exports and other paths pass straight through."""

from __future__ import annotations

import asyncio

from datawharf.api.admission import ExploreAdmission

PREFIX = "/api/explore/v2.1"


def _run(paths: list[str], limit: int) -> tuple[int, list[int]]:
    inside = 0
    most = 0
    finished: list[int] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        finished.append(scope["n"])

    admission = ExploreAdmission(app, prefix=PREFIX, limit=limit)

    async def main() -> None:
        calls = []
        for n, path in enumerate(paths):
            calls.append(asyncio.create_task(admission({"type": "http", "path": path, "n": n}, None, None)))
            await asyncio.sleep(0)  # arrive one after the other
        await asyncio.gather(*calls)

    asyncio.run(main())
    return most, finished


def test_records_requests_run_a_few_at_a_time_in_arrival_order() -> None:
    most, finished = _run([f"{PREFIX}/catalog/datasets/x/records"] * 30, limit=3)
    assert most == 3
    assert finished == sorted(finished)  # first come, first served


def test_exports_and_other_paths_are_not_held() -> None:
    paths = [f"{PREFIX}/catalog/datasets/x/exports/csv"] * 10 + ["/api/automation/v1.0/datasets/"] * 10
    most, _ = _run(paths, limit=2)
    assert most == 20
