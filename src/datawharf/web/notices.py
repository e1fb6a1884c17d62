"""The confirmation a page shows after a change: a POST redirects with ``?saved=<what>`` (``saved()``),
and the page it lands on shows that change's sentence (``notice_of``), read from this fixed list, never
from the query's text (a crafted link cannot make the page say anything else)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

NOTICES = {
    "connection": "Connection saved.",
    "role": "Role ARN saved, and the connection checked with it: the result is below.",
    "validated": "Connection checked again: the result is below.",
    "connection-deleted": "Connection deleted.",
    "harvester": "Harvester saved. Run it now, or let its schedule run it.",
    "harvest-started": "Harvest started: reload this page to see its counts.",
    "harvest-aborted": "Abort requested: the pass and the publishes of its datasets stop at their next step.",
    "harvest-published": "Every dataset of the harvester not yet published is being published.",
    "harvest-unpublished": "Every dataset of the harvester is unpublished (its next pass publishes them "
    "again).",
    "dataset": "Dataset saved. Publish it to make its records readable.",
    "dataset-publishing": "Dataset saved, and its first publish started.",
    "source": "Source added: publish to include its records.",
    "source-publishing": "Source added, and a publish with it started.",
    "publish": "Publish started: this page follows its progress.",
    "abort": "Abort requested: the run stops at its next step.",
    "unpublished": "Unpublished: the Explore API no longer shows the dataset.",
    "restored": "Version restored: the Explore API serves it now.",
    "schedule": "Schedule saved.",
    "schedule-deleted": "Schedule deleted.",
    "field": "Field change saved: it applies at the next publish.",
    "configuration-deleted": "Field configuration removed: the change is undone at the next publish.",
    "dataset-deleted": "Dataset deleted, with its data.",
    "metadata": "Metadata saved as a draft. Explore still shows the published metadata: publish it to show "
    "the new values.",
    "metadata-published": "Metadata published: the Explore API shows the new values now.",
    "public": "The dataset is public now: anyone can read it through the Explore API.",
    "restricted": "The dataset is restricted now: the Explore API answers 404 to anyone without a key "
    "holding explore_restricted_dataset.",
}


def saved(path: str, what: str, anchor: str = "") -> RedirectResponse:
    """The 303 after a successful POST (a reload does not post again), to a page that confirms it."""
    assert what in NOTICES, what
    target = f"{path}?{urlencode({'saved': what})}" + (f"#{anchor}" if anchor else "")
    return RedirectResponse(target, status_code=303)


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("saved", ""))
