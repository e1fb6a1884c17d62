"""``create_app(settings)``: the HTTP face. Nothing is built at import; the lifespan owns the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from datawharf import __version__, apikeys
from datawharf.api import automation, explore, v1
from datawharf.api.admission import ExploreAdmission
from datawharf.api.edge import ScopedCORS, SlashAlias
from datawharf.api.errors import install_error_handlers
from datawharf.api.limits import BodySizeLimit
from datawharf.api.logsafety import keep_api_keys_out_of_access_log
from datawharf.datasets.runtime import start_runtime
from datawharf.settings import Settings
from datawharf.store.db import STARTUP_LOCK, open_database
from datawharf.web import install_backoffice
from datawharf.web.rendering import BASE as BACKOFFICE_BASE


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keep_api_keys_out_of_access_log()
        database = open_database(settings)
        if settings.bootstrap_api_key is not None:
            with database.exclusive(STARTUP_LOCK), database.session() as session:  # see cli/serve.py
                apikeys.ensure_bootstrap_key(session, settings.bootstrap_api_key.get_secret_value())
        app.state.settings = settings
        app.state.database = database
        app.state.datasets_runtime = start_runtime(settings, database)
        try:
            yield
        finally:
            app.state.datasets_runtime.close()
            database.dispose()

    app = FastAPI(
        title="datawharf",
        version=__version__,
        description="Management API (Automation API v1.0 compatible) and Explore API v2.1.",
        lifespan=lifespan,
        redirect_slashes=True,
    )
    app.add_middleware(BodySizeLimit)
    admitted = settings.explore_concurrency or 2 * settings.query_pool_size
    app.add_middleware(ExploreAdmission, prefix=(explore.PREFIX, *v1.SEARCH_PREFIXES), limit=admitted)
    if settings.cors_origins:
        app.add_middleware(ScopedCORS, origins=settings.cors_origins)
    app.add_middleware(SlashAlias, routes=app.router.routes)  # outermost: routing sees the aliased path
    install_error_handlers(app)
    app.include_router(automation.build_router())
    app.include_router(explore.build_router())
    app.include_router(v1.build_router())
    install_backoffice(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """A person opening the address ``serve`` printed lands on the backoffice (its sign-in page when
        not signed in); the APIs have their own roots."""
        return RedirectResponse(f"{BACKOFFICE_BASE}/", status_code=307)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        """What a load balancer or a test asks to know the process still answers; touches nothing."""
        return {"status": "ok"}

    return app
