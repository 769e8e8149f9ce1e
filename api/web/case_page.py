"""The case page: its header and tabs, and the Exhibits tab (the case's exhibits, sorted, filtered and paged)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.config import get_settings
from api.deps import SessionDep
from api.services import exhibits as exhibit_service
from api.web import upload
from api.web.cases import CASE_TYPES
from api.web.render import is_htmx, page
from api.web.session import CaseViewerPage, PageRoute
from models.evidence import EvidenceKind
from models.exhibit import Designation

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EXHIBITS_PER_PAGE = 50
SORTS = {"position": "Exhibit order", "label": "Label", "title": "Title", "date": "Date"}
KINDS = {kind.value: kind.value.replace("_", " ").capitalize() for kind in EvidenceKind}
DESIGNATIONS = {
    Designation.none: "Not designated",
    Designation.confidential: "Confidential",
    Designation.attorneys_eyes_only: "Attorneys' eyes only",
}


def case_context(access) -> dict:
    """What every tab of the case page shows around itself."""
    return {"case": access.case, "access": access, "case_types": CASE_TYPES, "kinds": KINDS}


@router.get("/cases/{case_id}")
@router.get("/cases/{case_id}/exhibits")
def exhibits_tab(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    sort: Annotated[str, Query(max_length=20)] = "position",
    direction: Annotated[str, Query(max_length=4)] = "asc",
    kind: Annotated[str, Query(max_length=40)] = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    added: Annotated[str, Query(max_length=40)] = "",
    already: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    sort = sort if sort in SORTS else "position"
    kind = kind if kind in KINDS else ""
    items, next_cursor = exhibit_service.list_exhibits(
        session,
        access.case,
        limit=EXHIBITS_PER_PAGE,
        cursor=cursor,
        order=sort,
        descending=direction == "desc",
        kind=kind or None,
        tag=tag.strip() or None,
    )
    filters = {"sort": sort, "direction": "desc" if direction == "desc" else "asc", "kind": kind, "tag": tag.strip()}
    return page(
        request,
        "web/case_exhibits.html",
        access.viewer,
        block="results" if is_htmx(request) and request.headers.get("hx-target") == "exhibit-results" else None,
        **case_context(access),
        tab="exhibits",
        items=items,
        next_cursor=next_cursor,
        paged=cursor is not None,
        filters=filters,
        sorts=SORTS,
        designations=DESIGNATIONS,
        upload_limit=get_settings().max_upload_bytes,
        upload_notice=upload.notice(session, access.case, added=added, already=already) if added or already else None,
    )
