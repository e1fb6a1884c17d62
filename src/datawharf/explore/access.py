"""Who may read what: published and unrestricted datasets are public, restricted ones need a key with
``explore_restricted_dataset``, unpublished ones do not exist for the Explore API.

A dataset the caller may not read is answered exactly like one that does not exist (404), so the
Explore API tells nobody which restricted datasets a portal holds; the message says what a key would
change, for the caller who has one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from datawharf.datasets import catalog
from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import NotFound
from datawharf.settings import Settings
from datawharf.store.models import ApiKey

EXPLORE_RESTRICTED = "explore_restricted_dataset"


def may_read_restricted(api_key: ApiKey | None) -> bool:
    return api_key is not None and EXPLORE_RESTRICTED in api_key.permissions


def readable_dataset(
    session: Session, settings: Settings, dataset_id: str, api_key: ApiKey | None
) -> PublishedDataset:
    """The published dataset ``dataset_id`` if this caller may read it, else ``dataset_not_found``."""
    dataset = catalog.get_published(session, dataset_id, settings)
    if dataset is None or (dataset.is_restricted and not may_read_restricted(api_key)):
        raise NotFound(
            f"No published dataset '{dataset_id[:100]}' is visible here. Check the dataset_id in the "
            f"catalog (/api/explore/v2.1/catalog/datasets); a restricted dataset needs an API key with "
            f"the '{EXPLORE_RESTRICTED}' permission ('Authorization: apikey <key>' or '?apikey=').",
            error_code="dataset_not_found",
            detail={"dataset_id": dataset_id[:100]},
        )
    return dataset


def readable_datasets(session: Session, settings: Settings, api_key: ApiKey | None) -> list[PublishedDataset]:
    return catalog.list_published(session, settings, include_restricted=may_read_restricted(api_key))
