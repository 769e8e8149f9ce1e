"""The FastAPI application."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import __version__, web
from api.db import get_engine
from api.deps import get_blob_store
from api.errors import install_error_handlers
from api.jobqueue import handoff
from api.jobqueue import schema as queue_schema
from api.migrate import schema_behind
from api.routes import admin, analyses, auth, bundles, cases, evidence, exhibits, health, imports, previews, records
from api.routes import audit as audit_routes
from api.routes import export as export_routes
from api.routes import productions as production_routes
from api.routes import redactions as redaction_routes
from api.routes import search as search_routes
from api.routes import text as text_routes
from api.routes import timeline as timeline_routes
from api.services.audit import OriginMiddleware
from api.services.previews.renderers import renderers
from api.worker import RUNNERS

API_PREFIX = "/api/v1"

DESCRIPTION = """\
casebinder keeps the evidence of fake-review cases: originals stored once by SHA-256 and never changed,
linked into cases as labelled exhibits.

Authenticate with `POST /api/v1/auth/token` (email as `username`) and send `Authorization: Bearer <token>`.
Lists return `{"items": [...], "next_cursor": ...}`; pass `cursor` back for the next page.
Errors return `{"detail": ...}`. Anything in a case you are not a member of answers 404.
"""


@asynccontextmanager
async def lifespan(_: FastAPI):
    behind = schema_behind(get_engine())
    if behind:
        raise RuntimeError(behind)  # before anything reads a table that is not there yet
    handoff.check(get_engine())
    if handoff.queued_elsewhere():
        behind = queue_schema.behind(get_engine())
        if behind:
            raise RuntimeError(behind)
    get_blob_store().claim_staging()
    # With the queue, this process only queues jobs: `casebinder worker` processes run them.
    runners = [] if handoff.queued_elsewhere() else list(RUNNERS.values())
    for each in runners:
        each.start()
    yield
    for each in reversed(runners):
        each.stop()
    renderers.close()


def create_app() -> FastAPI:
    app = FastAPI(title="casebinder", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(OriginMiddleware)
    app.include_router(health.router)
    for router in (auth.router, cases.router, evidence.router, previews.router, exhibits.router, bundles.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(admin.router, prefix=API_PREFIX)
    app.include_router(text_routes.router, prefix=API_PREFIX)
    app.include_router(search_routes.router, prefix=API_PREFIX)
    app.include_router(timeline_routes.router, prefix=API_PREFIX)
    app.include_router(imports.router, prefix=API_PREFIX)
    app.include_router(records.router, prefix=API_PREFIX)
    app.include_router(analyses.router, prefix=API_PREFIX)
    app.include_router(redaction_routes.router, prefix=API_PREFIX)
    app.include_router(production_routes.router, prefix=API_PREFIX)
    app.include_router(export_routes.router, prefix=API_PREFIX)
    app.include_router(audit_routes.router, prefix=API_PREFIX)
    web.install(app)
    return app


app = create_app()
