import uuid
from typing import Literal

from fastapi import APIRouter, Query, Response

from api.deps import BlobStoreDep, CaseOwner, CurrentUser, SessionDep
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import audit_query
from api.services import evidence as evidence_service
from api.services.custody import pdf as custody_render
from api.services.custody import report as custody_service
from models.audit import AuditEventPublic
from models.custody import CustodyReport
from models.inputs import FILTER_VALUES_MAX, Choice, Cursor, DateBound

router = APIRouter(tags=["audit"], route_class=CheckedJSONRoute)

ANY_OF = "Repeat (or separate with commas) to match any of several."
CAPTION = Query(
    None,
    description="The case to caption the report in (one of the item's cases you are a member of); "
    "default: the case it was uploaded into.",
)


@router.get(
    "/cases/{case_id}/audit",
    response_model=Page[AuditEventPublic],
    responses=error_responses(400, 401, 403, 404, 422),
)
def case_audit(
    session: SessionDep,
    access: CaseOwner,
    actor: list[Choice] | None = Query(None, max_length=FILTER_VALUES_MAX, description=f"User id or e-mail. {ANY_OF}"),
    action: list[Choice] | None = Query(
        None,
        max_length=audit_query.MAX_ACTIONS,
        description=f"Exact action, or a prefix ending in '.' or '*' ('evidence.'). {ANY_OF}",
    ),
    object_id: Choice | None = Query(None, description="The id of the object acted on."),
    evidence_id: uuid.UUID | None = Query(None, description="Events about this evidence item."),
    start: DateBound | None = Query(None, description="Inclusive. ISO 8601 date or datetime; without an offset, UTC."),
    end: DateBound | None = Query(None, description="Exclusive; same forms as start."),
    order: Literal["asc", "desc"] = Query("asc", description="By seq: asc is the chain's own order."),
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor | None = None,
):
    """The case's audit trail, every column of every event (prev_hash and hash too, so links can be checked).

    Owners only. Events of other cases interleave in the one chain, so seqs of a case have gaps.
    """
    f = audit_query.parse_filter(
        actor=actor, action=action, object_id=object_id, evidence_id=evidence_id, start=start, end=end, order=order
    )
    items, next_cursor = audit_query.page(session, access.case, f, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/evidence/{evidence_id}/custody", response_model=CustodyReport, responses=error_responses(401, 404, 422))
def custody(
    session: SessionDep,
    user: CurrentUser,
    store: BlobStoreDep,
    evidence_id: uuid.UUID,
    case_id: uuid.UUID | None = CAPTION,
):
    """The item's chain of custody: acquisition, every access and change, its bundles with Bates ranges, the
    latest integrity check, and its stored original re-hashed now. Fetching it is recorded as an access."""
    item = evidence_service.get_visible(session, evidence_id, user)
    report = custody_service.build(session, store, item, user, case_id=case_id)
    evidence_service.record_access(
        session, "evidence.custody", item, user, {"format": "json", "hash_check": report["current_check"]["status"]}
    )
    return report


@router.get(
    "/evidence/{evidence_id}/custody.pdf",
    response_class=Response,
    responses=error_responses(401, 404, 422) | {200: {"content": {"application/pdf": {}}}},
)
def custody_pdf(
    session: SessionDep,
    user: CurrentUser,
    store: BlobStoreDep,
    evidence_id: uuid.UUID,
    case_id: uuid.UUID | None = CAPTION,
) -> Response:
    """The chain-of-custody report as a court-ready PDF. Its SHA-256 is recorded with the access, so a printed
    report can be matched to the trail."""
    item = evidence_service.get_visible(session, evidence_id, user)
    pdf, name = custody_render.issue(session, store, item, user, case_id)
    disposition = f'attachment; filename="{name}"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})
