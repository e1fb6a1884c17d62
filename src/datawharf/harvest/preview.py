"""What a pass would do now, without doing it: the reference's ``HarvesterPreviewResult``.

Bounded: one ListObjectsV2 page (up to 1,000 keys listed), no object read, nothing written. Each key
the page names is shown as the dataset it is or would become (``id``, ``title``, ``description``) with
what a pass would do to it (``action``): ``create``, ``refresh`` (published: "if changed"),
``republish`` (there, not published) or, when the page holds the whole listing (``complete``),
``unpublish`` for the published datasets whose key is gone. A longer listing shows its first page and
says so (``complete: false``, ``total_count`` counts that page only), since judging what is gone needs
the whole of it: a pass lists everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datawharf.datasets import locate
from datawharf.harvest import naming
from datawharf.harvest.harvest import source_keys
from datawharf.harvest.service import target_of
from datawharf.s3.listing import LIST_PAGE_SIZE, list_pages
from datawharf.settings import Settings
from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import HarvestedDataset, Harvester


def _first_page(session: Session, settings: Settings, harvester: Harvester) -> tuple[list[str], bool, str]:
    """The keys the listing's first page names, whether it is the whole listing, the folder's key."""
    target = target_of(session, settings, harvester)
    assert target.pattern is not None
    base_key = naming.key_folder(target.pattern.listing_prefix)
    client = locate.client_of(settings, target)
    try:
        matched, listed = next(iter(list_pages(client, target.location.bucket, target.pattern)), ([], 0))
    finally:
        client.close()
    return list(source_keys(harvester.mode, matched, base_key)), listed < LIST_PAGE_SIZE, base_key


def preview(session: Session, settings: Settings, harvester: Harvester, *, saved_uid: str) -> dict[str, Any]:
    """The module docstring's answer for ``harvester`` (saved, or the unsaved merge of a body with the
    saved one), judged against the datasets the saved harvester ``saved_uid`` made."""
    keys, complete, base_key = _first_page(session, settings, harvester)
    base_url = naming.url_folder(harvester.url)
    made = {
        row.source_key: (row, dataset)
        for row, dataset in session.execute(
            select(HarvestedDataset, Dataset)
            .join(Dataset, Dataset.uid == HarvestedDataset.dataset_uid)
            .where(HarvestedDataset.harvester_uid == saved_uid)
        )
    }
    description = str((harvester.forced_metas or {}).get("default", {}).get("description", ""))
    results: list[dict[str, Any]] = []
    for key in keys:
        named = naming.name_key(
            key,
            base_key=base_key,
            base_url=base_url,
            dataset_id_template=harvester.dataset_id_template,
            title_template=harvester.title_template,
        )
        found = made.get(key)
        if found is None:
            results.append(_shown(named.dataset_id, named.title, description, key, named.url, "create", None))
        else:
            dataset = found[1]
            action = "refresh" if dataset.is_published else "republish"
            results.append(
                _shown(dataset.dataset_id, named.title, description, key, named.url, action, dataset)
            )
    if complete:
        listed = set(keys)
        for key, (row, dataset) in sorted(made.items()):
            if key not in listed and row.present and dataset.is_published:
                title = _title(dataset) or key
                results.append(
                    _shown(dataset.dataset_id, title, description, key, None, "unpublish", dataset)
                )
    return {"total_count": len(keys), "results": results, "complete": complete}


def _title(dataset: Dataset) -> str | None:
    title = ((dataset.metadata_ or {}).get("default", {}) or {}).get("title") or {}
    value = title.get("value") if isinstance(title, dict) else None
    return str(value) if value else None


def _shown(
    dataset_id: str,
    title: str,
    description: str,
    key: str,
    url: str | None,
    action: str,
    dataset: Dataset | None,
) -> dict[str, Any]:
    return {
        "id": dataset_id,
        "title": title,
        "description": description,
        # Beyond the reference: where it comes from and what a pass would do.
        "source_key": key,
        "url": url,
        "action": action,
        "dataset_uid": dataset.uid if dataset is not None else None,
    }
