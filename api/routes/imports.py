"""Event imports run as jobs (queued by POST /cases/{id}/events:import): their progress and outcome."""

import uuid

from fastapi import APIRouter

from api.deps import CaseViewer, CurrentUser, SessionDep
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services.timeline import import_jobs as job_service
from models.import_job import ImportJobPublic
from models.inputs import Cursor

router = APIRouter(tags=["timeline"], route_class=CheckedJSONRoute)


@router.get("/imports/{import_id}", response_model=ImportJobPublic, responses=error_responses(401, 404))
def get_import(session: SessionDep, user: CurrentUser, import_id: uuid.UUID) -> ImportJobPublic:
    """An import job: status, progress (rows and bytes read; rows_total once the file is read), and at the end
    the events imported or the problems found (none stored then)."""
    return job_service.public(job_service.get_visible(session, import_id, user))


@router.get(
    "/cases/{case_id}/imports", response_model=Page[ImportJobPublic], responses=error_responses(400, 401, 404, 422)
)
def list_imports(session: SessionDep, access: CaseViewer, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    """The case's import jobs, oldest first."""
    rows, next_cursor = job_service.list_jobs(session, access.case, limit=limit, cursor=cursor)
    return {"items": [job_service.public(j) for j in rows], "next_cursor": next_cursor}
