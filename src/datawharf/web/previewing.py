"""The wizard's preview: a datasource, an extractor and its parameters -> the first 20 records.

A composition of three core calls (the connection's client and HEAD, the ranged preview reader, the
extract preview engine), nothing more; it moves to the core's preview service, which the API's
``resources/preview/`` route will share, as soon as that service exists.
"""

from __future__ import annotations

import posixpath
from typing import Any

from sqlalchemy.orm import Session

from datawharf.connections import sources as connection_sources
from datawharf.extract.preview import Preview, preview
from datawharf.s3.reader import open_object
from datawharf.settings import Settings


def preview_datasource(
    session: Session,
    settings: Settings,
    datasource: dict[str, Any],
    extractor: str | None,
    params: dict[str, Any] | None,
) -> Preview:
    client, location, info = connection_sources.open_object(session, settings, datasource)
    try:
        stream = open_object(client, location.bucket, location.key, access="preview", info=info)
        return preview(
            stream,
            posixpath.basename(location.key),
            info.content_type,
            extractor,
            params,
            max_bytes=settings.preview_max_bytes,
        )
    finally:
        client.close()
