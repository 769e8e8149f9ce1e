"""The web app: server-rendered pages for the legal team, at `/`, over the same services as the JSON API.

Pages live in templates/web; htmx (vendored in static/) makes them interactive, and every form still works
without JavaScript where a form can do the job.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.web import (
    activity,
    admin,
    admin_verify,
    bundle_builder,
    bundles,
    case_page,
    cases,
    evidence,
    evidence_text,
    exhibit_actions,
    members,
    records,
    redactions,
    search,
    signin,
    timeline,
    timeline_edit,
    timeline_files,
    upload,
)
from api.web.security import PageHeaders, is_page

STATIC = Path(__file__).resolve().parent / "static"
# The builder's /bundles/new before a bundle's /bundles/{bundle_id}, which would otherwise take "new" for an id.
ROUTERS = (
    signin.router,
    cases.router,
    case_page.router,
    exhibit_actions.router,
    upload.router,
    evidence.router,
    evidence_text.router,
    redactions.router,
    bundle_builder.router,
    bundles.router,
    members.router,
    records.router,
    activity.router,
    admin.router,
    admin_verify.router,
    timeline.router,
    timeline_edit.router,
    timeline_files.router,
    search.router,
)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their headers on `app`. An unknown path is the 404 page, except
    under the API, its docs and the health checks, which answer as they always have."""
    app.add_middleware(PageHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and is_page(request.url.path) and not request.url.path.startswith("/static/"):
            from api.web.render import error_page

            return error_page(request, 404, "page not found")
        return await http_exception_handler(request, exc)
