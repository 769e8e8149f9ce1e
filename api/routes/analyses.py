"""Analyses of record sets (the review-for-refund finder): queue one, follow it, read its findings."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import CaseEditor, CaseViewer, CurrentUser, SessionDep
from api.downloads import content_disposition
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import analyses as service
from api.services import analysis_events as events
from api.services import analysis_reports as reports
from models.analysis import (
    Analysis,
    AnalysisCreate,
    AnalysisPublic,
    FindingEventsCreate,
    FindingEventsCreated,
    FindingPublic,
)
from models.case import Role
from models.inputs import Cursor

router = APIRouter(tags=["records"], route_class=CheckedJSONRoute)
API_PREFIX = "/api/v1"


def _visible(role: Role = Role.viewer):
    def dependency(analysis_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Analysis:
        return service.get_visible(session, analysis_id, user, role)

    return dependency


VisibleAnalysis = Annotated[Analysis, Depends(_visible())]
EditableAnalysis = Annotated[Analysis, Depends(_visible(Role.editor))]


@router.post(
    "/cases/{case_id}/analyses",
    response_model=AnalysisPublic,
    status_code=202,
    responses=error_responses(401, 403, 404, 422),
)
def create_analysis(
    session: SessionDep, response: Response, access: CaseEditor, data: AnalysisCreate
) -> AnalysisPublic:
    """Queue an analysis of the case's record sets (editors): `review_for_refund` finds reviews rated at least
    `min_rating` whose reviewer's identity was paid from the product's seller side from `window_days_before` days
    before the review to `window_days_after` days after. Follow it at the `Location`."""
    analysis = service.create(session, case=access.case, actor=access.user, data=data)
    response.headers["Location"] = f"{API_PREFIX}/analyses/{analysis.id}"
    return service.public(analysis)


@router.get("/analyses/{analysis_id}", response_model=AnalysisPublic, responses=error_responses(401, 404))
def get_analysis(analysis: VisibleAnalysis) -> AnalysisPublic:
    """Its status, progress and, once done, counts (findings, records read, payments explained away)."""
    return service.public(analysis)


@router.get(
    "/cases/{case_id}/analyses", response_model=Page[AnalysisPublic], responses=error_responses(400, 401, 404, 422)
)
def list_analyses(session: SessionDep, access: CaseViewer, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    rows, next_cursor = service.list_analyses(session, access.case, limit=limit, cursor=cursor)
    return {"items": [service.public(a) for a in rows], "next_cursor": next_cursor}


@router.get(
    "/analyses/{analysis_id}/findings",
    response_model=Page[FindingPublic],
    responses=error_responses(400, 401, 404, 422) | {200: {"content": {"text/csv": {}}}},
)
def list_findings(
    session: SessionDep,
    user: CurrentUser,
    analysis: VisibleAnalysis,
    seller: str | None = Query(None, max_length=1000),
    product: str | None = Query(None, max_length=1000),
    min_score: float | None = Query(None, ge=0, le=1),
    format: Literal["json", "csv"] = "json",
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=1000),
    cursor: Cursor | None = None,
):
    """The findings in order (by the review's time), a page at a time, filtered by seller, product and score; or
    all of them as CSV (`?format=csv`)."""
    filters = {"seller": seller, "product": product, "min_score": min_score}
    reports.record_read(session, analysis, user, "analysis.findings", filters | {"format": format})
    if format == "csv":
        name = f"findings-{analysis.id}.csv"
        return StreamingResponse(
            reports.findings_csv(analysis.id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": content_disposition(name)},
        )
    rows, next_cursor = service.findings_page(session, analysis, limit=limit, cursor=cursor, **filters)
    return {"items": [service.finding_public(f) for f in rows], "next_cursor": next_cursor}


@router.get(
    "/analyses/{analysis_id}/summary.pdf",
    response_class=Response,
    responses=error_responses(401, 404, 422) | {200: {"content": {"application/pdf": {}}}},
)
def analysis_summary(session: SessionDep, user: CurrentUser, analysis: VisibleAnalysis) -> Response:
    """The findings as a summary for court (FRE 1006): the record sets summarized with their originals' SHA-256,
    totals per seller and product, a month chart, the largest reviewer identities, and an appendix citing the
    records behind every finding. `X-Content-SHA256` is the PDF's SHA-256, kept in the audit trail."""
    pdf, headers = reports.summary_pdf(session, analysis, user)
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.post(
    "/analyses/{analysis_id}/events",
    response_model=FindingEventsCreated,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
)
def findings_to_events(
    session: SessionDep, user: CurrentUser, analysis: EditableAnalysis, data: FindingEventsCreate
) -> FindingEventsCreated:
    """Add findings to the case's timeline (editors): for each, the offer messages, the review and the payments, as
    events citing the record set's original and, in their description, the record. Each event is tagged with its
    finding id and the analysis; a finding added before is passed over."""
    made = events.create_events(session, analysis, actor=user, finding_ids=data.finding_ids, min_score=data.min_score)
    return FindingEventsCreated(**made)
