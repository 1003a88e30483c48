"""The HTTP face: the JSON API (documents, operations) and the review UI, on one FastAPI app.

`create_app(settings)` is the only way to build it; the app keeps the settings and its per-process
caches in `app.state`, and every route is a module-level handler in its own router. Errors raised by
the service become HTTP statuses in api/errors.py alone.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gouji.api import documents, errors, operations, review_ui
from gouji.api.lru import ByteLRU
from gouji.api.report_bodies import ReportBodies
from gouji.api.token_cache import TokenCache
from gouji.worker.settings import Settings

PAGE_PICTURES_BYTES = 32 << 20  # rendered page pictures kept per process for the review UI


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="gouji",
        version="0.1.0",
        description="Government information-disclosure annual reports → validated, traceable data: upload, "
        "follow a batch, read reports (canonical JSON, cells, checks), re-run, export, health and metrics. "
        "Every call but /healthz needs an API token with a role (`gouji token create`); reads are public only "
        "when the deployment sets GOUJI_PUBLIC_READ.",
    )
    app.state.settings = settings
    app.state.report_bodies = ReportBodies(settings.database_url, settings.report_cache_mb << 20)
    app.state.page_pictures = ByteLRU(PAGE_PICTURES_BYTES)
    app.state.tokens = TokenCache(settings.database_url)
    app.include_router(documents.router)
    app.include_router(operations.router)
    app.include_router(review_ui.router)
    app.mount("/static", StaticFiles(directory=review_ui.HERE / "static"), name="static")
    errors.install(app)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` when `gouji serve --workers N` starts several server processes: each is its
    own entry point and reads the same settings from its environment."""
    return create_app(Settings.from_env())
