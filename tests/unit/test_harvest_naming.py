"""What a harvested key becomes: its URL, dataset_id and title (harvest/naming.py, no I/O)."""

from __future__ import annotations

import pytest

from datawharf.errors import InvalidInput
from datawharf.harvest import naming


def named(key: str, url: str = "http://h:9/b/exports/", **templates: str) -> naming.Named:
    return naming.name_key(
        key,
        base_key=naming.key_folder("exports/"),
        base_url=naming.url_folder(url),
        dataset_id_template=templates.get("dataset_id", "{path}"),
        title_template=templates.get("title", "{path}"),
    )


def test_an_object_key_gives_a_slug_a_readable_title_and_its_url() -> None:
    made = named("exports/2026/12/Qualité_de l'air.csv.gz")
    assert made.dataset_id == "2026-12-qualite-de-lair"
    assert made.title == "2026 / 12 / Qualité de l'air"
    assert made.url == "http://h:9/b/exports/2026/12/Qualit%C3%A9_de%20l%27air.csv.gz"


def test_templates_name_the_parts_of_the_key() -> None:
    made = named("exports/2026/12/stations.csv.gz", dataset_id="st-{stem}", title="{name} in {folder}")
    assert (made.dataset_id, made.title) == ("st-stations", "Stations.csv.gz in 2026 / 12")
    folder = named("exports/day-01/", title="Day {folder}")
    assert (folder.dataset_id, folder.title, folder.url) == (
        "day-01",
        "Day day 01",
        "http://h:9/b/exports/day-01/",
    )


def test_a_wildcard_in_a_key_stays_literal_and_a_glob_url_keeps_its_folder() -> None:
    assert naming.url_folder("http://[::1]:9/b/exports/**/*.csv") == "http://[::1]:9/b/exports/"
    assert naming.url_folder("exports/part-[0-9].csv") == "exports/"
    assert named("exports/a*b?.csv").url.endswith("/exports/a%2Ab%3F.csv")


def test_folders_are_the_first_level_only() -> None:
    assert naming.folder_of("exports/a/b/c.csv", "exports/") == "exports/a/"
    assert naming.folder_of("exports/c.csv", "exports/") is None


def test_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        naming.check_template("{stem}-{__class__}", "dataset_id_template")
    assert refused.value.error_code == "invalid_harvester"
    assert naming.fill("{stem}-{nope}", {"stem": "s"}) == "s-{nope}"
