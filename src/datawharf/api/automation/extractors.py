"""``GET /extractors/``: the formats datawharf reads and their parameters (the reference ``Extractor``).

The reference answers a plain array (not a page): the list is short and fixed by the code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from datawharf.api.deps import AnyApiKey
from datawharf.datasets.schemas import ExtractorPublic
from datawharf.extract.registry import describe_extractors

router = APIRouter(prefix="/extractors", tags=["Dataset resources"])


@router.get(
    "/", operation_id="list-extractors", summary="List extractors", response_model=list[ExtractorPublic]
)
def list_extractors(_key: AnyApiKey) -> list[dict[str, Any]]:
    return describe_extractors()
