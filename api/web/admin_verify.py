"""Integrity checks (verify runs), for administrators: the runs, starting one, and a run's page, which follows
its progress (htmx polls it while it is queued or running) and says its findings in words. The same service and
runner as POST /api/v1/admin/verify-runs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.errors import NotFound
from api.services import verify_runs as verify_run_service
from api.web.admin import AdminPage
from api.web.render import is_htmx, page
from api.web.session import PageRoute
from models.common import utcnow
from models.verify import VerifyRunStatus

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RUNS_PER_PAGE = 25
SHOWN_FINDINGS = 500  # a run's page lists this many; GET /api/v1/admin/verify-runs/{id} has them all
STATUS_WORDS = {
    VerifyRunStatus.queued: "Waiting to start",
    VerifyRunStatus.running: "Checking",
    VerifyRunStatus.done: "Finished",
    VerifyRunStatus.failed: "Could not finish",
}
PROBLEM_WORDS = {
    "missing": ("Stored file missing", "A row names a file the store no longer has."),
    "corrupt": ("Stored file damaged", "The file's bytes no longer match the hash it was stored under."),
    "orphan": ("File nothing refers to", "The store holds a file no evidence item or bundle volume names."),
    "broken": ("Audit trail broken", "An event of the audit trail was changed, removed or reordered."),
    "mismatch": ("Record disagrees with the audit trail", "A row differs from what the audit trail says happened."),
}


@router.get("/admin/verify-runs")
def runs_page(
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    runs, next_cursor = verify_run_service.list_runs(session, limit=RUNS_PER_PAGE, cursor=cursor)
    return page(
        request,
        "web/admin_verify.html",
        admin,
        section="verify",
        runs=runs,
        next_cursor=next_cursor,
        paged=cursor is not None,
        status_words=STATUS_WORDS,
    )


@router.post("/admin/verify-runs")
def start_run(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    run = verify_run_service.create_run(session, actor=admin.user, anchors=[])
    location = f"/admin/verify-runs/{run.id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


@router.get("/admin/verify-runs/{run_id}")
def run_page(request: Request, session: SessionDep, admin: AdminPage, run_id: str) -> Response:
    try:
        wanted = uuid.UUID(run_id)
    except ValueError:
        raise NotFound("verify run not found") from None
    run, requested_by = verify_run_service.get_run(session, wanted)
    poll = is_htmx(request) and request.headers.get("hx-target") == "run-progress"
    return page(
        request,
        "web/admin_verify_run.html",
        admin,
        block="progress" if poll else None,
        poll=poll,
        shown_findings=SHOWN_FINDINGS,
        section="verify",
        run=run,
        requested_by=requested_by,
        result=run.result or {},
        now=utcnow(),
        status_words=STATUS_WORDS,
        problem_words=PROBLEM_WORDS,
    )
