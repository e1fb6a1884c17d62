"""The web backoffice, ``/backoffice/``: server-rendered pages over the core services.

``install_backoffice(app)`` is the one call ``create_app`` makes. The pages call the core
(``apikeys``, ``connections``, ``extract``, ``datasets``, ``harvest``) like the API does; no logic lives
here that the API or the CLI would need too.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from datawharf.web.rendering import BASE, STATIC_DIR


def install_backoffice(app: FastAPI) -> None:
    from datawharf.web import auth, connections, dataset_metadata, datasets, harvesters, wizard

    app.mount(f"{BASE}/static", StaticFiles(directory=STATIC_DIR), name="backoffice-static")
    # The wizard's fixed paths (/datasets/new...) before the dataset pages' /datasets/{uid}.
    for module in (auth, connections, wizard, datasets, dataset_metadata, harvesters):
        app.include_router(module.router)
