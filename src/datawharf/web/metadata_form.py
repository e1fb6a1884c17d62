"""The dataset page's metadata form and visibility switch: what they show (``metadata_view``) and how a
submitted form becomes metadata fields (``form_entries``).

The form edits the draft, field by field, through the same core calls as the API's
``.../metadata/{template}/{field}/``; the page says whether the draft differs from what Explore shows
(the published metadata), so that "Publish the metadata" is never a guess.
"""

from __future__ import annotations

from typing import Any

from datawharf.datasets.metadata import shown_metadata
from datawharf.datasets.metadata_templates import LANGUAGES
from datawharf.store.models.datasets import Dataset

# The form's boxes: (name in the form, template, field, how the box holds it).
FORM_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("title", "default", "title", "text"),
    ("description", "default", "description", "text"),
    ("keywords", "default", "keyword", "comma_list"),
    ("license", "default", "license", "text"),
    ("license_id", "internal", "license_id", "text"),
    ("publisher", "default", "publisher", "text"),
    ("language", "default", "language", "text"),
    ("themes", "default", "theme", "comma_list"),
    ("attributions", "default", "attributions", "line_list"),
)

LANGUAGE_NAMES = {
    "en": "English", "fr": "French", "nl": "Dutch", "pt": "Portuguese", "it": "Italian", "ar": "Arabic",
    "de": "German", "es": "Spanish", "ca": "Catalan", "eu": "Basque", "sv": "Swedish",
}  # fmt: skip


def _box(value: Any, holds: str) -> str:
    if value is None:
        return ""
    if holds == "comma_list":
        return ", ".join(value)
    if holds == "line_list":
        return "\n".join(value)
    return str(value)


def _values(metadata: dict[str, Any]) -> dict[str, str]:
    shown = shown_metadata(metadata)
    return {
        name: _box(shown.get(template, {}).get(field, {}).get("value"), holds)
        for name, template, field, holds in FORM_FIELDS
    }


def metadata_view(dataset: Dataset) -> dict[str, Any]:
    """The form's values (the draft), the languages, and whether the draft differs from what Explore
    shows."""
    published = shown_metadata(dataset.published_metadata or {})
    return {
        "values": _values(dataset.metadata_),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        # Any field, the form's or one set through the API (dcat, visualization...).
        "unpublished_changes": dataset.is_published and shown_metadata(dataset.metadata_) != published,
    }


def _parsed(text: str, holds: str) -> Any:
    if holds == "comma_list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if holds == "line_list":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text.strip()


def form_entries(form: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """``(template, field, entry)`` of each box of the form; an empty box unsets its field."""
    entries: list[tuple[str, str, dict[str, Any] | None]] = []
    for name, template, field, holds in FORM_FIELDS:
        value = _parsed(form.get(name, ""), holds)
        entries.append((template, field, {"value": value} if value else None))
    return entries
