from fastapi import APIRouter

from api.deps import CaseEditor, CaseExhibit, CaseViewer, EditableExhibit, SessionDep
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import evidence as evidence_service
from api.services import exhibits as exhibit_service
from api.services.holds import CaseOnHold
from models.exhibit import ExhibitCreate, ExhibitPublic, ExhibitUpdate
from models.inputs import Cursor

router = APIRouter(tags=["exhibits"], route_class=CheckedJSONRoute)


@router.get("/cases/{case_id}/exhibits", response_model=Page[ExhibitPublic], responses=error_responses(400, 401, 404))
def list_exhibits(session: SessionDep, access: CaseViewer, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    """The case's exhibits in exhibit order."""
    items, next_cursor = exhibit_service.list_exhibits(session, access.case, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "/cases/{case_id}/exhibits",
    response_model=ExhibitPublic,
    status_code=201,
    responses=error_responses(401, 403, 404, exhibit_service.EvidenceAlreadyExhibit, 422),
)
def link_exhibit(session: SessionDep, access: CaseEditor, data: ExhibitCreate) -> ExhibitPublic:
    """Link evidence you can see into this case under its next label. Evidence uploaded into another case also
    needs the owner role there: a case's owners decide what leaves it (403 otherwise)."""
    item = evidence_service.get_live(session, data.evidence_id, access.user)
    exhibit = exhibit_service.link(session, case=access.case, evidence=item, actor=access.user)
    return exhibit_service.to_public(exhibit, item)


@router.get("/cases/{case_id}/exhibits/{exhibit_id}", response_model=ExhibitPublic, responses=error_responses(401, 404))
def get_exhibit(session: SessionDep, exhibit: CaseExhibit) -> ExhibitPublic:
    return exhibit_service.to_public(exhibit, evidence_service.get_item(session, exhibit.evidence_id))


@router.patch(
    "/cases/{case_id}/exhibits/{exhibit_id}",
    response_model=ExhibitPublic,
    responses=error_responses(401, 403, 404, exhibit_service.ExhibitLabelTaken, 422),
)
def update_exhibit(
    session: SessionDep, exhibit: EditableExhibit, access: CaseEditor, data: ExhibitUpdate
) -> ExhibitPublic:
    """Move, relabel, designate or annotate. No other exhibit is renumbered."""
    exhibit = exhibit_service.update_exhibit(session, access.case, exhibit, data, actor=access.user)
    return exhibit_service.to_public(exhibit, evidence_service.get_item(session, exhibit.evidence_id))


@router.delete(
    "/cases/{case_id}/exhibits/{exhibit_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, CaseOnHold, exhibit_service.ExhibitStillCited),
)
def unlink_exhibit(session: SessionDep, exhibit: EditableExhibit, access: CaseEditor) -> None:
    """Unlink the exhibit. The evidence and its original stay; the label is never handed out again.
    Refused (409) while the case is on legal hold, and while a manual event of this case cites the exhibit's
    evidence and that evidence was uploaded into another case (a case's timeline cites only its own evidence)."""
    exhibit_service.unlink(session, access.case, exhibit, actor=access.user)
